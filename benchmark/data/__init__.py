"""The bundled real evaluation set and the script that makes it."""
