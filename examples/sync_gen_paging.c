/* sync_gen_paging — an async generator fetching pages one at a time.
 *
 *     async def paginated_fetch(total_pages):
 *         for page in range(1, total_pages + 1):
 *             await asyncio.sleep(0.2)  # simulate network delay per page
 *             yield {"page": page, "items": [f"item-{page}-{i}" for i in range(3)]}
 *
 *     async for page_data in paginated_fetch(4):
 *         print(f"Page {page_data['page']}: {page_data['items']}")
 *
 * The generator body runs as a producer task; cio_gen_yield hands each page to
 * the consumer's cio_gen_next, which returns -ENOENT at the end (Python's
 * StopAsyncIteration). Like Python's, the body is lazy: a page is fetched only
 * when the consumer asks for it. Breaking out of the loop early is
 * cio_gen_close (Python's aclose): the producer's yield returns -ECANCELED and
 * it cleans up. A failure in the body reaches the consumer's next, with its
 * message, as an exception would. */
#include "example.h"

typedef struct page {
    int number;
    char items[3][32];
} page;

typedef struct fetch_args {
    int total_pages;
    int fail_at; /* 0: never */
} fetch_args;

static int paginated_fetch(cio_gen *g, void *arg)
{
    fetch_args *a = arg;
    page p; /* lives on the producer's stack; the consumer reads it before the next yield */
    for (int n = 1; n <= a->total_pages; n++) {
        int err = cio_sleep(S(0.2)); /* simulate network delay per page */
        if (err)
            return err;
        if (n == a->fail_at)
            return cio_fail(-EIO, "page %d: server error 500", n);
        p.number = n;
        for (int i = 0; i < 3; i++)
            snprintf(p.items[i], sizeof(p.items[i]), "item-%d-%d", n, i);
        err = cio_gen_yield(g, &p);
        if (err) {
            printf("  (generator closed after page %d: cleaning up)\n", n);
            return err;
        }
    }
    return 0;
}

static void print_page(const page *p)
{
    printf("Page %d: ['%s', '%s', '%s'] (at %.2f s)\n", p->number, p->items[0], p->items[1],
           p->items[2], elapsed());
}

static int story(void *arg)
{
    (void)arg;
    printf("== async for page_data in paginated_fetch(4) ==\n");
    fetch_args all = {4, 0};
    cio_gen g;
    cio_gen_init(&g, paginated_fetch, &all);
    void *v;
    int err;
    while ((err = cio_gen_next(&g, &v)) == 0)
        print_page(v);
    cio_gen_destroy(&g);
    if (err != -ENOENT)
        return err;
    printf("end of pages\n");

    printf("== break after page 2 (aclose) ==\n");
    cio_gen_init(&g, paginated_fetch, &all);
    while ((err = cio_gen_next(&g, &v)) == 0) {
        print_page(v);
        if (((page *)v)->number == 2)
            break;
    }
    err = cio_gen_close(&g);
    printf("closed: %s\n", errname(err));
    cio_gen_destroy(&g);

    printf("== a page that fails ==\n");
    fetch_args failing = {4, 3};
    cio_gen_init(&g, paginated_fetch, &failing);
    while ((err = cio_gen_next(&g, &v)) == 0)
        print_page(v);
    printf("next returned %s: %s\n", errname(err), cio_task_message(cio_current()));
    cio_gen_destroy(&g);
    return 0;
}

int main(int argc, char **argv)
{
    example_init(argc, argv);
    int err = cio_run(story, NULL);
    if (err)
        fprintf(stderr, "failed: %s\n", cio_strerror(err));
    return err ? 1 : 0;
}
