"""skelgen: TAHAR skeleton autoencoder, class-conditioned generation, and its benchmark."""
__version__ = "0.1.0"
