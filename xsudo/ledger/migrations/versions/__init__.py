"""One module per schema revision, oldest first (``0001_initial``, ...). A revision is
frozen once released: it spells its tables out and never imports ``xsudo.ledger.schema``."""
