"""The only reader of article files: ``scan`` lists them, ``normalise`` turns one into an
:class:`~publisher.model.Article`, ``parallel`` does many at once in worker processes."""
