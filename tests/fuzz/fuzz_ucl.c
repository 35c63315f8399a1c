/*
 * fuzz_ucl.c: libFuzzer target for the UCL parser and the JSON emitter.
 *
 * Parses the input as the text of a configuration file, so that the
 * variables $FILENAME and $CURDIR expand, while .include is refused and
 * the fuzzer never reads files; emits JSON (both forms) when it parsed,
 * and checks that an error always comes with a position.
 *
 *	make fuzz FUZZ_SECONDS=600
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "ucl.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ucl_error	 err;
	struct ucl_node		*root;
	struct buf		 b;

	root = ucl_parse_config_text((const char *)data, size,
	    "/nonexistent/fuzz/config", &err);
	if (root == NULL) {
		if (err.line < 1 || err.column < 1 || err.message[0] == '\0')
			abort();
		return 0;
	}
	buf_init(&b);
	ucl_emit_json(root, &b, true);
	buf_reset(&b);
	ucl_emit_json(root, &b, false);
	buf_free(&b);
	ucl_free(root);
	return 0;
}
