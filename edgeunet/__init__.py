"""edgeunet: from a labelled folder to a calibrated edge engine and an honest live view."""

__version__ = "0.1.0"
