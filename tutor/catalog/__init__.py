"""Courses from learning platforms, read into one format-neutral model.

* ``course`` — the model: a `Course` of `Activity` entries (lesson, graded item, or ungraded with
  the reason), each under the platform's identifier, with its place and a content hash.
* ``olx``    — an Open edX OLX export (``.tar.gz`` or folder) read into a `Course`.
"""
