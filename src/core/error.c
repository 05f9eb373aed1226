/* cio_strerror: errno names plus cio's own codes. */
#include <string.h>

#include "cio/core.h"

const char *cio_strerror(int err)
{
    if (err < 0)
        err = -err;
    switch (-err) {
    case CIO_ESCOPE:
        return "scope exited out of order";
    case CIO_ETLS:
        return "TLS handshake or protocol failure";
    case CIO_ECERT:
        return "TLS certificate verification failed";
    default:
        break;
    }
    if (err == 0)
        return "success";
    const char *s = strerrordesc_np(err);
    return s ? s : "unknown error";
}
