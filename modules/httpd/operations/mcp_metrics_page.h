/* The metrics' httpd side: slots given to the protected locations at
 * startup, the time a request spent in the module, and SetHandler
 * mcp-auth-metrics (Prometheus' text exposition format). */
#ifndef MCP_METRICS_PAGE_H
#define MCP_METRICS_PAGE_H

#include <httpd.h>

#include "mcp_config.h"
#include "mcp_metrics.h"

/* In post_config: the registry found again (or made) in the process pool,
 * and every protected location of every virtual host given its slot; 0
 * without shared memory (nothing is then counted). */
int mcp_metrics_init(server_rec *s);

/* The slot a request under conf counts in. */
int mcp_metrics_slot_of(const mcp_dir_conf_t *conf);

/* The time a request spent in the module: started in each of its hooks,
 * added up per request, observed once when the request is logged. */
typedef struct mcp_metrics_clock {
    apr_interval_time_t spent;
    int slot;                      /* -1: not a request through AuthType MCP */
} mcp_metrics_clock_t;

void mcp_metrics_clock_add(mcp_metrics_clock_t *clock, const mcp_dir_conf_t *conf, apr_time_t started);
void mcp_metrics_clock_observe(mcp_metrics_clock_t *clock);

int mcp_metrics_handler(request_rec *r);

#endif
