/* UTF-8 validation for text messages and close reasons (RFC 3629 as RFC
 * 6455 requires: no overlongs, no surrogates, nothing past U+10FFFF),
 * incremental so that a character split across frames is checked whole and
 * the first bad byte fails at once. */
#include <string.h>

#include "ws_internal.h"

int cio__ws_utf8_feed(ws_utf8 *st, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t b = p[i];
        if (st->need) {
            if (b < st->lo || b > st->hi)
                return -1;
            st->need--;
            st->lo = 0x80;
            st->hi = 0xBF;
            continue;
        }
        if (b < 0x80) {
            /* ASCII runs, eight bytes at a time. */
            while (i + 8 < n) { /* bytes i+1 .. i+8 exist */
                uint64_t w;
                memcpy(&w, p + i + 1, 8);
                if (w & 0x8080808080808080ull)
                    break;
                i += 8;
            }
            continue;
        }
        st->lo = 0x80;
        st->hi = 0xBF;
        if (b >= 0xC2 && b <= 0xDF) {
            st->need = 1;
        } else if (b == 0xE0) {
            st->need = 2;
            st->lo = 0xA0;
        } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
            st->need = 2;
        } else if (b == 0xED) {
            st->need = 2;
            st->hi = 0x9F; /* no surrogates */
        } else if (b == 0xF0) {
            st->need = 3;
            st->lo = 0x90;
        } else if (b >= 0xF1 && b <= 0xF3) {
            st->need = 3;
        } else if (b == 0xF4) {
            st->need = 3;
            st->hi = 0x8F; /* up to U+10FFFF */
        } else {
            return -1;
        }
    }
    return 0;
}

int cio__ws_utf8_valid(const void *p, size_t n)
{
    ws_utf8 st = {0};
    return cio__ws_utf8_feed(&st, p, n) == 0 && cio__ws_utf8_complete(&st);
}
