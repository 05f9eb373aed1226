/* libcio-ws's frame functions (src/ws/frame.c) on their own, without a
 * connection: masking. The header parser is driven by the fuzzer
 * (tests/fuzz/fuzz_ws_frame.c, its corpus replayed by test_fuzz_ws_corpus). */
#include <string.h>

#include "../../src/ws/ws_internal.h"
#include "cio_test.h"

/* ---- masking ---- */

/* cio__ws_mask serves the sender (a copy from phase 0, or from a piece's
 * offset) and the receiver (in place, from wherever a read split the
 * payload): every length around the 8-byte stride, every phase, both ways,
 * against the byte rule out[i] = in[i] ^ key[(phase + i) % 4]. */
static void test_mask(void)
{
    static const uint8_t key[4] = {0x9e, 0x37, 0x79, 0xb9};
    uint8_t in[40], out[40], inplace[40];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)(i * 7 + 1);
    for (size_t n = 0; n <= 33; n++) {
        for (uint64_t phase = 0; phase < 9; phase++) {
            for (size_t off = 0; off < 3; off++) { /* unaligned starts */
                memset(out, 0, sizeof(out));
                cio__ws_mask(out + off, in + off, n, key, phase);
                memcpy(inplace, in, sizeof(in));
                cio__ws_mask(inplace + off, inplace + off, n, key, phase);
                for (size_t i = 0; i < n; i++) {
                    uint8_t want = in[off + i] ^ key[(phase + i) & 3];
                    CIO_ASSERT_EQ(out[off + i], want);
                    CIO_ASSERT_EQ(inplace[off + i], want);
                }
                CIO_ASSERT_EQ(out[off + n], 0); /* nothing past n */
                /* Masking twice gives the input back. */
                cio__ws_mask(inplace + off, inplace + off, n, key, phase);
                CIO_ASSERT(memcmp(inplace, in, sizeof(in)) == 0);
            }
        }
    }
}

static const cio_test_case tests[] = {
    CIO_TEST(test_mask, "masking copies or works in place at any key phase and length, "
                        "byte for byte as RFC 6455 5.3 says"),
};

CIO_TEST_MAIN(tests)
