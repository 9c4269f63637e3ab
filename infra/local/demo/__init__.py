"""The demo environment the local stack seeds, one module per concern (see ``seed.py``)."""
