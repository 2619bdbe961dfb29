-- Public network peers met before (the DHT and public relays): a later start begins from
-- them when the bootstrap peers are gone. Strangers' infrastructure, not family: bounded
-- (net::public::REMEMBERED_PEERS), oldest forgotten first.
CREATE TABLE public_peers (
    peer    TEXT    PRIMARY KEY,          -- libp2p peer id
    addrs   TEXT    NOT NULL,             -- JSON list of public multiaddrs
    relay   INTEGER NOT NULL DEFAULT 0,   -- identify listed the circuit relay v2 hop
    seen_at INTEGER NOT NULL              -- unix milliseconds
) STRICT;
