"""SMS channel codecs: E.164 numbers, keywords, segment counting, the two-way SMS payload, short texts."""
