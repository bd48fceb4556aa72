"""Helpers for the hands-on transfer learning with Keras 3 course."""
