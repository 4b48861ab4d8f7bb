#!/usr/bin/perl
# TCP bulk transfer for the interop tests (the VMs have perl-base but no nc, socat or python):
#   xfer.pl sink BIND_ADDR PORT OUTFILE [SECS]  accept one connection, write what arrives to OUTFILE until
#                                              EOF, then close; prints "SINK <bytes> bytes"; gives up
#                                              after SECS (default 600) without a connection
#   xfer.pl send HOST PORT FILE [SECS]          connect, send FILE, shut down the sending side and wait for
#                                              the sink to close (so everything arrived); prints
#                                              "SENT <bytes> bytes"; fails after SECS (default 300)
use strict;
use warnings;
use IO::Socket::INET;
use Socket qw(SHUT_WR);

my $mode = shift // '';
$| = 1;
if ($mode eq 'sink') {
    my ($bind, $port, $out, $secs) = @ARGV;
    die "usage: $0 sink BIND_ADDR PORT OUTFILE [SECS]\n" unless defined $out;
    $secs //= 600;
    my $l = IO::Socket::INET->new(LocalAddr => $bind, LocalPort => $port, Listen => 1, ReuseAddr => 1, Proto => 'tcp')
        or die "sink: listen $bind:$port: $@\n";
    print "LISTENING $bind:$port\n";
    local $SIG{ALRM} = sub { die "sink: no connection within ${secs}s\n" };
    alarm $secs;
    my $c = $l->accept or die "sink: accept: $!\n";
    alarm 0;
    my $from = $c->peerhost // '?';
    open my $fh, '>:raw', $out or die "sink: $out: $!\n";
    my ($n, $buf) = (0, '');
    while (1) {
        my $r = sysread $c, $buf, 65536;
        die "sink: read: $!\n" unless defined $r;
        last if $r == 0;
        print {$fh} $buf or die "sink: write: $!\n";
        $n += $r;
    }
    close $fh or die "sink: close $out: $!\n";
    close $c;
    print "SINK $n bytes from $from\n";
} elsif ($mode eq 'send') {
    my ($host, $port, $file, $secs) = @ARGV;
    die "usage: $0 send HOST PORT FILE [SECS]\n" unless defined $file;
    $secs //= 300;
    local $SIG{ALRM} = sub { die "send: not done within ${secs}s\n" };
    alarm $secs;
    my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, Proto => 'tcp', Timeout => 30)
        or die "send: connect $host:$port: $@\n";
    open my $fh, '<:raw', $file or die "send: $file: $!\n";
    my ($n, $buf) = (0, '');
    while (my $r = sysread $fh, $buf, 65536) {
        my $off = 0;
        while ($off < $r) {
            my $w = syswrite $s, $buf, $r - $off, $off;
            die "send: write: $!\n" unless defined $w;
            $off += $w;
        }
        $n += $r;
    }
    shutdown $s, SHUT_WR;
    1 while sysread $s, $buf, 4096;   # until the sink closes: everything has arrived
    alarm 0;
    print "SENT $n bytes\n";
} else {
    die "usage: $0 sink BIND_ADDR PORT OUTFILE [SECS] | send HOST PORT FILE [SECS]\n";
}
