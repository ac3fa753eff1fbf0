"""gradtrace's nn: neurons, layers and MLPs on top of autograd (to be filled by the nn issue)."""
