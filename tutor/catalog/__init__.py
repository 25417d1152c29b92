"""The platform's own courses: read from their packages, stored, aligned to the framework, used.

Reading (one format-neutral model, whatever the package):

* ``course``        — the model: a `Course` of `Activity` entries (lesson, graded item, or ungraded with
  the reason), each under the platform's identifier, with its place and a content hash.
* ``packages``      — `read_package`: tells the format from the content and reads it.
* ``olx``, ``scorm``, ``cartridge`` (with ``qti``), ``folder`` — the readers: Open edX OLX exports,
  SCORM 1.2/2004, IMS Common Cartridge 1.0–1.3, folders of Markdown/HTML pages.
* ``package_files`` — what every reader shares: safe unpacking and paths, defusedxml, text from HTML.

Storing and using:

* ``imports``   — a course stored in place (unchanged activities keep their rows and answers), aligned.
* ``jobs``      — imports run as jobs whose progress any worker can report.
* ``alignment`` — ranked framework skills for a text, with calibrated confidence (``alignment_tuning``
  fits it); ``review`` — the queue of activities whose skills a person decides.
* ``activities`` — activity ids, and how a statement's object IRI finds its activity.
* ``documents`` — imported lessons for the question index, and where the platform shows them.
* ``steps``     — the platform's lessons and items for the skills a learner works on next.
"""
