/* policy.c - the policy step: what a request may do, decided once before any SQL runs. */
#include <string.h>

#include "http/http_int.h"

void
dba__http_policy_tx(struct req *r, const char *prefer_tx)
{
    enum dba_tx_end mode = r->w->srv->cfg->server.tx_end;
    bool override = mode == DBA_TX_COMMIT_ALLOW_OVERRIDE || mode == DBA_TX_ROLLBACK_ALLOW_OVERRIDE;

    r->pol.tx_rollback = mode == DBA_TX_ROLLBACK || mode == DBA_TX_ROLLBACK_ALLOW_OVERRIDE;
    r->pol.tx_applied = false;
    if (override && prefer_tx != NULL) {
        /* As PostgREST's db-tx-end: only an allow-override mode lets the client choose. */
        r->pol.tx_rollback = strcmp(prefer_tx, "rollback") == 0;
        r->pol.tx_applied = true;
    }
}
