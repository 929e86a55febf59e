#!/usr/bin/env python3
# SCTP for the lab on kernels without SCTP sockets: raw IPv4 packets (protocol 132) still
# go through the kernel's connection tracking and NAT, which is what redirect mode uses.
#   sctp-raw.py send <address> <port>         sends one INIT chunk (valid CRC32c) from a random
#                                             port (a new flow each time, never an old one's)
#   sctp-raw.py receive <seconds>             prints "ready", then one JSON line describing the
#                                             first SCTP packet received: peer, dst, sport, dport
#                                             ({"timeout": true} when none came in time)
import json
import random
import socket
import struct
import sys

SCTP = 132


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def send(address, port):
    # INIT: type 1, flags 0, length 20, initiate tag, a_rwnd, out/in streams, initial TSN
    init = struct.pack("!BBHIIHHI", 1, 0, 20, 0x11223344, 65535, 1, 1, 1)
    header = struct.pack("!HHII", random.randint(20000, 60000), port, 0, 0)
    checksum = struct.pack("<I", crc32c(header + init))  # RFC 9260 appendix A byte order
    packet = header[:8] + checksum + init
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, SCTP)
    s.sendto(packet, (address, 0))


def receive(seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, SCTP)
    s.settimeout(seconds)
    print("ready", flush=True)
    try:
        data, peer = s.recvfrom(65535)
    except socket.timeout:
        print(json.dumps({"timeout": True}), flush=True)
        return
    ihl = (data[0] & 15) * 4
    sport, dport = struct.unpack("!HH", data[ihl : ihl + 4])
    dst = socket.inet_ntoa(data[16:20])
    print(json.dumps({"peer": peer[0], "dst": dst, "sport": sport, "dport": dport}), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "send":
        send(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 3 and sys.argv[1] == "receive":
        receive(float(sys.argv[2]))
    else:
        sys.exit("usage: sctp-raw.py send <address> <port> | receive <seconds>")
