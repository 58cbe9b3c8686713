"""The weekly newsletter: ``issue`` plans it, ``render`` renders it, ``message`` mails it."""
