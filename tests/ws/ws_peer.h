/* ws_peer's parts (ws_peer.c, ws_peer_lws.c). */
#ifndef CIO_TESTS_WS_PEER_H
#define CIO_TESTS_WS_PEER_H

#include "cio.h"
#include "cio/http_server.h"
#include "cio/ws.h"

/* The scenario against libwebsockets-test-server at url (ws://host:port/):
 * mirror and dumb-increment. Returns 0 when all passed, else 1 (the reason on
 * stderr). Runs in a task. */
int ws_peer_lws_client(const char *url, const cio_ws_opts *opts);

/* The route for libwebsockets-test-client: arg points to the server's
 * cio_ws_opts. */
int ws_peer_lws_route(cio_http_req *req, cio_http_resp *resp, void *arg);

#endif
