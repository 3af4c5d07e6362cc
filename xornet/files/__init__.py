"""A saved model on disk: names, safe writing, HDF5 weights, run record, loading, export.

One module per concept, imported one way: names <- safe_write <- record <- save;
weights_h5 <- load <- export.
"""
