"""promtext: a strict reader of the two text formats Prometheus reads, for
the tests of `vmstatedctl metrics`.

    families = parse(text, "prometheus")     # the text format 0.0.4
    families = parse(text, "openmetrics")    # OpenMetrics 1.0.0
    lint(families, "vmstated_")              # the naming conventions

parse() raises FormatError, naming the line, for anything either format
forbids or a scraper would read otherwise than meant: a metric or label
name of the wrong syntax, a reserved label name (__...), a sample before
its family's # TYPE, a family given twice or interleaved with another, a
counter whose samples do not end in _total (and, in the text format
0.0.4, whose # TYPE does not name it so; in OpenMetrics, whose family
name does), a summary sample other than _sum and _count (or with a
quantile), a sample name that is not its family's, a duplicate series, a
value that is not a float, a label value with a raw quote or an escape
other than \\\\, \\" and \\n, invalid UTF-8, a blank line, a missing
newline at the end.  OpenMetrics also: # UNIT a suffix of the family
name, no comment lines, a negative counter, and # EOF as the last line.

It returns {family name: Family}, in the order met; Family.samples holds
(sample name, {label: value}, value) tuples, values as floats.
"""

import math
import re

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
# Go's strconv.ParseFloat, as Prometheus uses it, minus hex floats.
FLOAT = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|"
                   r"[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])\Z")
OM_FLOAT = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|"
                      r"Inf|NaN)\Z")
TYPES = ("counter", "gauge", "summary", "histogram", "untyped")
OM_TYPES = ("counter", "gauge", "summary", "histogram", "gaugehistogram",
            "stateset", "info", "unknown")


class FormatError(ValueError):
    pass


class Family:
    def __init__(self, name, type_=None):
        self.name = name
        self.type = type_
        self.help = None
        self.unit = None
        self.samples = []

    def __repr__(self):
        return "Family(%r, %r, %d samples)" % (self.name, self.type,
                                              len(self.samples))

    def value(self, **labels):
        """The value of the one sample with exactly these labels (a
        counter's _total, a gauge's); KeyError if there is none."""
        for name, lab, value in self.samples:
            if lab == labels and not name.endswith(("_created", "_sum",
                                                    "_count")):
                return value
        raise KeyError("%s%r" % (self.name, labels))

    def series(self, suffix=""):
        """{frozenset of labels: value} of the samples name+suffix."""
        want = self.sample_name(suffix)
        return {frozenset(l.items()): v for n, l, v in self.samples
                if n == want}

    def sample_name(self, suffix=""):
        if self.type == "counter" and not suffix and \
                not self.name.endswith("_total"):
            return self.name + "_total"
        return self.name + suffix


def unescape(text, lineno, allowed):
    """A label value or help text with its escapes (\\ then one of
    `allowed`) undone; FormatError for any other escape."""
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text) or text[i + 1] not in allowed:
                raise FormatError("line %d: bad escape %r"
                                  % (lineno, text[i:i + 2]))
            out.append({"\\": "\\", '"': '"', "n": "\n"}[text[i + 1]])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def parse_labels(text, pos, lineno):
    """The labels of a sample from text[pos] (just after '{'): returns
    ({name: value}, position after '}')."""
    labels = {}
    while True:
        if text.startswith("}", pos):
            return labels, pos + 1
        m = re.compile(r"([^=\s{},\"]+)=\"").match(text, pos)
        if not m:
            raise FormatError("line %d: bad label at column %d: %r"
                              % (lineno, pos + 1, text[pos:pos + 20]))
        name = m.group(1)
        if not LABEL_NAME.match(name) or name.startswith("__"):
            raise FormatError("line %d: bad label name %r" % (lineno, name))
        if name in labels:
            raise FormatError("line %d: label %r given twice"
                              % (lineno, name))
        pos = m.end()
        raw = []
        while True:
            if pos >= len(text):
                raise FormatError("line %d: unterminated label value"
                                  % lineno)
            c = text[pos]
            if c == "\\":
                raw.append(text[pos:pos + 2])
                pos += 2
                continue
            if c == '"':
                pos += 1
                break
            raw.append(c)
            pos += 1
        labels[name] = unescape("".join(raw), lineno, '\\"n')
        if text.startswith(",", pos):
            pos += 1
            if text.startswith("}", pos):
                # A trailing comma: 0.0.4 accepts it, OpenMetrics does not;
                # we write none.
                raise FormatError("line %d: trailing comma in labels"
                                  % lineno)
        elif not text.startswith("}", pos):
            raise FormatError("line %d: expected , or } at column %d"
                              % (lineno, pos + 1))


def family_of(sample, families, fmt):
    """The family a sample name belongs to (by the suffixes its type
    allows), or None."""
    for fam in families.values():
        if fam.type == "counter":
            names = ([fam.name] if fmt == "prometheus"
                     else [fam.name + "_total", fam.name + "_created"])
        elif fam.type == "summary":
            names = [fam.name, fam.name + "_sum", fam.name + "_count"]
        elif fam.type == "histogram":
            names = [fam.name + s for s in ("_bucket", "_sum", "_count")]
        else:
            names = [fam.name]
        if sample in names:
            return fam
    return None


def parse(text, fmt="prometheus"):
    """Parse an exposition; see the module's doc."""
    if fmt not in ("prometheus", "openmetrics"):
        raise ValueError(fmt)
    om = fmt == "openmetrics"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise FormatError("not UTF-8: %s" % e)
    if not text.endswith("\n"):
        raise FormatError("the text does not end with a newline")
    lines = text[:-1].split("\n")
    families = {}
    current = None          # the family whose samples come now
    done = set()            # families that may not come back
    series = set()
    eof = False
    for lineno, line in enumerate(lines, 1):
        if eof:
            raise FormatError("line %d: after # EOF" % lineno)
        if line == "":
            raise FormatError("line %d: blank line" % lineno)
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if om and line == "# EOF":
                eof = True
                continue
            if len(parts) < 3 or parts[0] != "#" or \
                    parts[1] not in ("HELP", "TYPE", "UNIT"):
                if om:
                    raise FormatError("line %d: OpenMetrics has no comment "
                                      "lines: %r" % (lineno, line))
                continue
            keyword, name = parts[1], parts[2]
            if keyword == "UNIT" and not om:
                continue        # a comment in 0.0.4
            if not METRIC_NAME.match(name):
                raise FormatError("line %d: bad metric name %r"
                                  % (lineno, name))
            fam = families.get(name)
            if fam is None:
                if name in done:
                    raise FormatError("line %d: family %s again"
                                      % (lineno, name))
                if current is not None:
                    done.add(current.name)
                fam = families[name] = Family(name)
                current = fam
            elif fam is not current:
                raise FormatError("line %d: family %s interleaved"
                                  % (lineno, name))
            elif fam.samples:
                raise FormatError("line %d: # %s of %s after its samples"
                                  % (lineno, keyword, name))
            value = parts[3] if len(parts) > 3 else ""
            if keyword == "HELP":
                if fam.help is not None:
                    raise FormatError("line %d: second HELP of %s"
                                      % (lineno, name))
                fam.help = unescape(value, lineno,
                                    '\\"n' if om else "\\n")
            elif keyword == "TYPE":
                if fam.type is not None:
                    raise FormatError("line %d: second TYPE of %s"
                                      % (lineno, name))
                if value not in (OM_TYPES if om else TYPES):
                    raise FormatError("line %d: unknown type %r"
                                      % (lineno, value))
                if value == "counter":
                    if not om and not name.endswith("_total"):
                        raise FormatError(
                            "line %d: counter %s: the text format names a "
                            "counter by its sample, NAME_total"
                            % (lineno, name))
                    if om and name.endswith("_total"):
                        raise FormatError(
                            "line %d: counter %s: OpenMetrics names the "
                            "family without _total" % (lineno, name))
                fam.type = value
            else:
                if not value or not name.endswith("_" + value):
                    raise FormatError("line %d: unit %r is not the suffix "
                                      "of %s" % (lineno, value, name))
                fam.unit = value
            continue
        m = re.match(r"([^\s{]+)", line)
        if not m or not METRIC_NAME.match(m.group(1)):
            raise FormatError("line %d: bad sample %r" % (lineno, line))
        name = m.group(1)
        pos = m.end()
        labels = {}
        if line.startswith("{", pos):
            labels, pos = parse_labels(line, pos + 1, lineno)
        rest = line[pos:]
        if not rest.startswith(" "):
            raise FormatError("line %d: no space before the value"
                              % lineno)
        fields = rest[1:].split(" ")
        if len(fields) > 2 or not fields[0]:
            raise FormatError("line %d: bad value part %r" % (lineno, rest))
        if len(fields) == 2:
            raise FormatError("line %d: a timestamp: textfile collectors "
                              "refuse them, and we write none" % lineno)
        if not (OM_FLOAT if om else FLOAT).match(fields[0]):
            raise FormatError("line %d: value %r is not a float"
                              % (lineno, fields[0]))
        value = float(fields[0])
        fam = family_of(name, families, fmt)
        if fam is None or fam is not current or fam.type is None:
            raise FormatError("line %d: sample %s before its family's "
                              "# TYPE (or outside its family)"
                              % (lineno, name))
        if fam.type == "counter":
            if not name.endswith(("_total", "_created")):
                raise FormatError("line %d: counter sample %s does not end "
                                  "in _total" % (lineno, name))
            if om and value < 0 or math.isnan(value):
                raise FormatError("line %d: counter %s is %r"
                                  % (lineno, name, value))
        if fam.type == "summary":
            if name == fam.name or "quantile" in labels:
                raise FormatError("line %d: %s: we write no quantiles"
                                  % (lineno, name))
            if name.endswith("_count") and (value < 0 or
                                             value != int(value)):
                raise FormatError("line %d: %s is not a count"
                                  % (lineno, name))
        key = (name, frozenset(labels.items()))
        if key in series:
            raise FormatError("line %d: duplicate series %s%r"
                              % (lineno, name, labels))
        series.add(key)
        fam.samples.append((name, labels, value))
    if om and not eof:
        raise FormatError("OpenMetrics text without # EOF at its end")
    for fam in families.values():
        if fam.type is None:
            raise FormatError("family %s has no # TYPE" % fam.name)
    return families


def lint(families, prefix):
    """What promtool's `check metrics` and Prometheus's naming guide ask:
    a HELP for every family, snake_case names under one prefix, _total
    only for counters, base units (seconds, not milliseconds), a unit's
    name at the end.  Returns a list of problems (empty: none)."""
    problems = []
    for fam in families.values():
        base = fam.name[:-len("_total")] if fam.name.endswith("_total") \
            else fam.name
        if not fam.help:
            problems.append("%s has no help" % fam.name)
        if not re.fullmatch(r"[a-z][a-z0-9_]*", fam.name) or "__" in \
                fam.name:
            problems.append("%s is not snake_case" % fam.name)
        if not fam.name.startswith(prefix):
            problems.append("%s lacks the prefix %s" % (fam.name, prefix))
        if fam.type != "counter" and fam.name.endswith("_total"):
            problems.append("%s ends in _total but is a %s"
                            % (fam.name, fam.type))
        for bad in ("_milliseconds", "_ms", "_minutes", "_hours", "_days",
                    "_msec", "_usec"):
            if base.endswith(bad):
                problems.append("%s is not in base units" % fam.name)
        if "_seconds_" in base:
            problems.append("%s: the unit belongs at the end" % fam.name)
        for _, labels, _ in fam.samples:
            for label in labels:
                if not re.fullmatch(r"[a-z][a-z0-9_]*", label):
                    problems.append("%s: label %s is not snake_case"
                                    % (fam.name, label))
    return sorted(set(problems))
