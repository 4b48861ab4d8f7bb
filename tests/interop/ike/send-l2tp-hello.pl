#!/usr/bin/perl
# Pushed into the VMs by tests/interop/run.sh (ike suites): sends COUNT L2TP Hello messages from
# UDP port 1701 to DST:1701, so that the kernel protects them with the ESP SA under test
# (transport mode, UDP/1701 selectors). The VMs have perl but neither socat nor netcat.
#   sras-interop-send DST [COUNT]
use strict;
use warnings;
use Socket qw(inet_aton pack_sockaddr_in);
use IO::Socket::INET;

my ($dst, $count) = @ARGV;
die "usage: $0 DST [COUNT]\n" unless $dst;
$count ||= 3;
# Unconnected: an ICMP port unreachable from the peer must not fail the next send.
my $s = IO::Socket::INET->new(Proto => 'udp', LocalPort => 1701, ReuseAddr => 1)
  or die "socket on UDP 1701: $!\n";
my $to = pack_sockaddr_in(1701, inet_aton($dst));
for my $i (1 .. $count) {
    # L2TP control header: T, L, S, version 2; length 20; tunnel 0x5352; session 0; Ns; Nr 0;
    # then the Message Type AVP (M bit, length 8, vendor 0, type 0) of value 6: Hello.
    my $msg = pack('nnnnnn', 0xc802, 20, 0x5352, 0, $i - 1, 0) . pack('nnnn', 0x8008, 0, 0, 6);
    defined $s->send($msg, 0, $to) or die "send to $dst:1701: $!\n";
    select(undef, undef, undef, 0.3);
}
print "sent $count L2TP Hello from UDP 1701 to $dst:1701\n";
