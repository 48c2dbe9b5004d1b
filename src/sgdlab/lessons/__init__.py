"""The demo (``sgdlab demo``) and the lessons it runs, one module per part of the tutorial."""
