"""``autograd.compile``'s pipeline, one way: batched arguments (:mod:`.batch`) → one
sample's trace (:mod:`.trace`) → a tape of groups (:mod:`.tape`) → the replay of a batch,
each sample by the tape of its branch pattern (:mod:`.replay`); :mod:`.step` is the API."""
