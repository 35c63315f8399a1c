/*
 * test_expfmt.c: metrics as Prometheus text 0.0.4 and OpenMetrics 1.0.0
 * (src/common/expfmt.c): the few places where they differ, label
 * escaping, values.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "expfmt.h"

static const char *vm1[] = { "vm", "vm1", NULL };

/* One gauge with a unit and one counter, in the format given. */
static char *
two_families(enum expfmt_format format)
{
	struct expfmt	 w;
	struct buf	 b;

	buf_init(&b);
	expfmt_init(&w, &b, format);
	expfmt_family(&w, "x_uptime_seconds", EXPFMT_GAUGE, "seconds",
	    "Seconds up.");
	expfmt_sample(&w, NULL, vm1, 1.5);
	expfmt_family(&w, "x_restarts", EXPFMT_COUNTER, NULL,
	    "Restarts \"so far\".");
	expfmt_sample(&w, NULL, vm1, 3);
	expfmt_end(&w);
	return buf_steal(&b);
}

static void
test_prometheus_names_a_counter_by_its_sample(void **state)
{
	char	*text = two_families(EXPFMT_PROMETHEUS);

	assert_string_equal(text,
	    "# HELP x_uptime_seconds Seconds up.\n"
	    "# TYPE x_uptime_seconds gauge\n"
	    "x_uptime_seconds{vm=\"vm1\"} 1.5\n"
	    "# HELP x_restarts_total Restarts \"so far\".\n"
	    "# TYPE x_restarts_total counter\n"
	    "x_restarts_total{vm=\"vm1\"} 3\n");
	free(text);
}

static void
test_openmetrics_names_the_family_and_ends_with_eof(void **state)
{
	char	*text = two_families(EXPFMT_OPENMETRICS);

	assert_string_equal(text,
	    "# HELP x_uptime_seconds Seconds up.\n"
	    "# TYPE x_uptime_seconds gauge\n"
	    "# UNIT x_uptime_seconds seconds\n"
	    "x_uptime_seconds{vm=\"vm1\"} 1.5\n"
	    "# HELP x_restarts Restarts \\\"so far\\\".\n"
	    "# TYPE x_restarts counter\n"
	    "x_restarts_total{vm=\"vm1\"} 3\n"
	    "# EOF\n");
	free(text);
}

static void
test_a_family_without_samples_leaves_nothing(void **state)
{
	struct expfmt	 w;
	struct buf	 b;

	buf_init(&b);
	expfmt_init(&w, &b, EXPFMT_PROMETHEUS);
	expfmt_family(&w, "x_empty", EXPFMT_GAUGE, NULL, "Nothing.");
	expfmt_family(&w, "x_summary_seconds", EXPFMT_SUMMARY, "seconds",
	    "Hooks.");
	expfmt_sample(&w, "_sum", vm1, 0.25);
	expfmt_sample(&w, "_count", vm1, 2);
	expfmt_sample(&w, "_sum", NULL, 1);
	expfmt_end(&w);
	assert_string_equal(b.data,
	    "# HELP x_summary_seconds Hooks.\n"
	    "# TYPE x_summary_seconds summary\n"
	    "x_summary_seconds_sum{vm=\"vm1\"} 0.25\n"
	    "x_summary_seconds_count{vm=\"vm1\"} 2\n"
	    "x_summary_seconds_sum 1\n");
	buf_free(&b);
}

static void
test_label_values_are_escaped_and_utf8(void **state)
{
	struct buf	 b;

	buf_init(&b);
	expfmt_label_value(&b, "a\\b\"c\nd\te\xc3\xa9" "f\xe9" "g");
	/* \, " and newline escaped; a tab as it is; é kept; a lone Latin-1
	 * byte replaced by U+FFFD. */
	assert_string_equal(b.data,
	    "a\\\\b\\\"c\\nd\te\xc3\xa9""f\xef\xbf\xbdg");
	buf_free(&b);
}

static void
test_values(void **state)
{
	static const struct {
		double		 v;
		const char	*s;
	} cases[] = {
		{ 0, "0" }, { 3, "3" }, { -2, "-2" }, { 0.25, "0.25" },
		{ 1795922509.125, "1795922509.125" }, { 1e20, "1e+20" },
		{ 0.1 + 0.2, "0.3" },
	};
	struct buf	 b;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_init(&b);
		expfmt_value(&b, cases[i].v);
		assert_string_equal(b.data, cases[i].s);
		buf_free(&b);
	}
	buf_init(&b);
	expfmt_value(&b, NAN);
	expfmt_value(&b, INFINITY);
	expfmt_value(&b, -INFINITY);
	assert_string_equal(b.data, "NaN+Inf-Inf");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prometheus_names_a_counter_by_its_sample),
		cmocka_unit_test(
		    test_openmetrics_names_the_family_and_ends_with_eof),
		cmocka_unit_test(test_a_family_without_samples_leaves_nothing),
		cmocka_unit_test(test_label_values_are_escaped_and_utf8),
		cmocka_unit_test(test_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
