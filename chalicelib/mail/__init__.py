"""Email channel codecs: MIME parsing, HTML handling, reply trimming, loop detection, building mail."""
