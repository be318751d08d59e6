"""`python -m keras_preact ...` runs the `keras-preact` command line."""

import sys

from keras_preact.cli import main

sys.exit(main())
