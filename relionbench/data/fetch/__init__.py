"""Download the benchmark datasets: resumable, verified, idempotent.

``relion-benchmark`` is RELION's standard Plasmodium ribosome benchmark (particles from
EMPIAR-10028), one ~47 GiB tarball from MRC-LMB that is unpacked into
``<dest>/relion-benchmark``.  ``empiar-<N>`` mirrors an EMPIAR entry into ``<dest>/empiar-<N>``
by walking the EBI server's HTTP directory index.

Every file goes to ``<file>.part``, is resumed by GNU Wget (``wget --continue``: an HTTP
``Range`` request, FTP ``REST``), is checked here against a sha256/md5 when one is known (else
against its size) and only then renamed, so a file under its final name is a verified one and
a re-run skips it.

Why wget: the transfer is what a facility moving a terabyte has to trust, so it is left to the
tool such facilities already script it with.  GNU Wget 1.x resumes both protocols the
catalogue needs (the MRC-LMB benchmark is only published on ``ftp://``; EMPIAR is served over
HTTPS) with one option; retries by itself (``--tries``, ``--waitretry``,
``--retry-connrefused``, ``--retry-on-http-error``), each retry resuming where the last one
stopped; gives up on a stalled connection (``--timeout``); honours the site's proxies,
``/etc/wgetrc`` and CA store; and is packaged by every distribution (Debian/Ubuntu and
RHEL/Rocky: ``wget``).  ``curl -C -`` resumes too, but a connection dropped mid-body is not
one of the errors ``--retry`` retries (that needs ``--retry-all-errors``, curl >= 7.71), and a
server that ignores ``Range`` makes it fail (exit 33) where wget reads past what it has.
GNU Wget2 (``wget`` on Fedora >= 40) has no FTP, so GNU Wget 1.x is required by name.

What stays here: the catalogue, the checksums (hashlib over the finished file), the ``.part``
convention that makes a re-run a no-op, safe unpacking, the EMPIAR index walk, one more wget
run whenever wget gives up but the file still grew, and one-line errors.

Modules: ``catalogue`` (datasets, ``empiar-<N>``, ``--base-url``), ``wget`` (running wget and
reading its log), ``download`` (one file into place), ``verify`` (size and checksum),
``unpack`` (the tarball), ``index`` (an EMPIAR directory listing and its md5 files),
``fetchers`` (the two kinds of dataset), ``cli`` (``scripts/fetch-dataset``), ``errors`` and
``progress`` (what every other module reports with).
"""
