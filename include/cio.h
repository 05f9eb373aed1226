/* cio: Python asyncio's programming model in C. The umbrella header. */
#ifndef CIO_H
#define CIO_H

#include "cio/core.h"
#include "cio/scope.h"
#include "cio/wait.h"
#include "cio/group.h"
#include "cio/callback.h"
#include "cio/debug.h"
#include "cio/io.h"
#include "cio/signal.h"
#include "cio/process.h"
#include "cio/stream.h"
#include "cio/tls.h"
#include "cio/udp.h"
#include "cio/sync.h"
#include "cio/fault.h"

#endif
