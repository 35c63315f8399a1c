/*
 * expfmt.c: metrics as Prometheus text 0.0.4 or OpenMetrics 1.0.0 (see
 * expfmt.h).  The two differ in three places only: a counter's # TYPE
 * line names its family with _total in the first and without it in the
 * second, OpenMetrics has # UNIT lines and ends with # EOF, and its help
 * text escapes double quotes as well.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "expfmt.h"

static const char *type_names[] = { "gauge", "counter", "summary" };

void
expfmt_init(struct expfmt *w, struct buf *out, enum expfmt_format format)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
	w->format = format;
}

void
expfmt_family(struct expfmt *w, const char *name, enum expfmt_type type,
    const char *unit, const char *help)
{
	w->family = name;
	w->type = type;
	w->unit = unit;
	w->help = help;
	w->announced = false;
}

/* Help text: one line; backslash and newline escaped (and " in OM). */
static void
help_text(struct expfmt *w, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			buf_puts(w->out, "\\\\");
		else if (*s == '\n')
			buf_puts(w->out, "\\n");
		else if (*s == '"' && w->format == EXPFMT_OPENMETRICS)
			buf_puts(w->out, "\\\"");
		else
			buf_putc(w->out, *s);
	}
}

/*
 * The family's # lines.  Prometheus 0.0.4 names a counter by its sample
 * (foo_total); OpenMetrics by its family (foo), whose samples add _total.
 */
static void
announce(struct expfmt *w)
{
	const char	*total = w->type == EXPFMT_COUNTER &&
	    w->format == EXPFMT_PROMETHEUS ? "_total" : "";

	buf_printf(w->out, "# HELP %s%s ", w->family, total);
	help_text(w, w->help);
	buf_printf(w->out, "\n# TYPE %s%s %s\n", w->family, total,
	    type_names[w->type]);
	if (w->unit != NULL && w->format == EXPFMT_OPENMETRICS)
		buf_printf(w->out, "# UNIT %s %s\n", w->family, w->unit);
	w->announced = true;
}

void
expfmt_label_value(struct buf *b, const char *s)
{
	size_t	 len = strlen(s), i, n;

	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] >= 0x80) {
			/* Both formats want UTF-8: U+FFFD for what is not. */
			if ((n = utf8_char_len(s + i, len - i)) == 0)
				buf_puts(b, "\xef\xbf\xbd");
			else {
				buf_append(b, s + i, n);
				i += n - 1;
			}
		} else if (s[i] == '\\')
			buf_puts(b, "\\\\");
		else if (s[i] == '"')
			buf_puts(b, "\\\"");
		else if (s[i] == '\n')
			buf_puts(b, "\\n");
		else
			buf_putc(b, s[i]);
	}
}

/*
 * Whole numbers without a fraction (counts, whole seconds), others with
 * enough digits for a Unix time in milliseconds; both formats read either.
 */
void
expfmt_value(struct buf *b, double v)
{
	if (isnan(v))
		buf_puts(b, "NaN");
	else if (isinf(v))
		buf_puts(b, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		buf_printf(b, "%.0f", v);
	else
		buf_printf(b, "%.15g", v);
}

void
expfmt_sample(struct expfmt *w, const char *suffix,
    const char *const *labels, double value)
{
	size_t	 i;

	if (!w->announced)
		announce(w);
	if (suffix == NULL)
		suffix = w->type == EXPFMT_COUNTER ? "_total" : "";
	buf_printf(w->out, "%s%s", w->family, suffix);
	for (i = 0; labels != NULL && labels[i] != NULL; i += 2) {
		buf_printf(w->out, "%s%s=\"", i == 0 ? "{" : ",", labels[i]);
		expfmt_label_value(w->out, labels[i + 1]);
		buf_putc(w->out, '"');
	}
	if (labels != NULL && labels[0] != NULL)
		buf_putc(w->out, '}');
	buf_putc(w->out, ' ');
	expfmt_value(w->out, value);
	buf_putc(w->out, '\n');
}

void
expfmt_end(struct expfmt *w)
{
	if (w->format == EXPFMT_OPENMETRICS)
		buf_puts(w->out, "# EOF\n");
}

const char *
expfmt_content_type(enum expfmt_format format)
{
	return format == EXPFMT_OPENMETRICS ?
	    "application/openmetrics-text; version=1.0.0; charset=utf-8" :
	    "text/plain; version=0.0.4; charset=utf-8";
}

const char *
expfmt_format_name(enum expfmt_format format)
{
	return format == EXPFMT_OPENMETRICS ? "openmetrics" : "prometheus";
}
