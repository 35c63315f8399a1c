/*
 * expfmt.h: writing metrics as text, in the two exposition formats that
 * Prometheus reads:
 *
 *   EXPFMT_PROMETHEUS   the text format 0.0.4 ("text/plain; version=0.0.4"),
 *                       what node_exporter's textfile collector and
 *                       promtool read;
 *   EXPFMT_OPENMETRICS  OpenMetrics 1.0.0 ("application/openmetrics-text;
 *                       version=1.0.0"): # UNIT lines, a counter's family
 *                       named without its _total, and # EOF at the end.
 *
 * A family is announced with expfmt_family(); its # HELP and # TYPE lines
 * are written with its first sample, so that a family with no sample
 * leaves nothing.  Samples of one family follow each other: families are
 * never interleaved.
 */
#ifndef VMSTATED_EXPFMT_H
#define VMSTATED_EXPFMT_H

#include <stdbool.h>

#include "buf.h"

enum expfmt_format {
	EXPFMT_PROMETHEUS,
	EXPFMT_OPENMETRICS,
};

enum expfmt_type {
	EXPFMT_GAUGE,
	EXPFMT_COUNTER,		/* samples are <family>_total */
	EXPFMT_SUMMARY,		/* samples <family>_sum and _count only */
};

struct expfmt {
	struct buf		*out;
	enum expfmt_format	 format;
	const char		*family;	/* the current one */
	enum expfmt_type	 type;
	const char		*unit;		/* or NULL */
	const char		*help;
	bool			 announced;	/* its # lines are written */
};

/* Start writing to out in the given format. */
void	 expfmt_init(struct expfmt *, struct buf *out, enum expfmt_format);
/*
 * The next family: its name (for a counter without _total), type, unit
 * ("seconds", or NULL: the name must then end in _<unit>) and help text.
 * The strings must live until the next expfmt_family() or expfmt_end().
 */
void	 expfmt_family(struct expfmt *, const char *name, enum expfmt_type,
	    const char *unit, const char *help);
/*
 * One sample of the current family.  suffix: NULL for a gauge or a
 * counter (whose _total is added here), "_sum" or "_count" for a summary.
 * labels: name, value, name, value, ..., NULL; the values are escaped
 * here.
 */
void	 expfmt_sample(struct expfmt *, const char *suffix,
	    const char *const *labels, double value);
/* The end of the exposition (# EOF in OpenMetrics). */
void	 expfmt_end(struct expfmt *);

/* A label value, escaped (\\, \", \n) and made valid UTF-8. */
void	 expfmt_label_value(struct buf *, const char *);
/* A sample value as both formats write it: 3, 0.25, NaN, +Inf. */
void	 expfmt_value(struct buf *, double);
/* The Content-Type of a format, for those who serve it over HTTP. */
const char *expfmt_content_type(enum expfmt_format);
/* "prometheus" or "openmetrics". */
const char *expfmt_format_name(enum expfmt_format);

#endif
