#!/usr/bin/perl
# check-log-ids.pl — the module's log ids against docs/log-ids.md.
#
#   perl tests/tools/check-log-ids.pl [calls|unique|list|all]
#   perl tests/tools/check-log-ids.pl --code     (the ids as the code has them)
#
# Reads the module's sources (mod_certmap.c, certmap_*.c, certmap_*.h at the
# top of the tree), comments left out, and checks:
#   calls   every log call (ap_log_*error, and logond_log: the logon
#           helper's lines, which reach httpd's log through
#           certmap_helper_log) has a format that starts with "CERTMAPnnn: ";
#   unique  every id appears at one place only (a log call, or a reason
#           string that a log line carries), unless %SHARED says why not;
#   list    the table of docs/log-ids.md has one row per id of the code and
#           no other, each naming the file and (where the code names one)
#           the level; no retired id is used again.
# Prints each problem on a line of its own; exits 1 when there is one.
# Run by tests/tools/run-tools-tests.sh (`make test-tools`).
use strict;
use warnings;
use File::Basename qw(dirname basename);

my $TOP = $ENV{CERTMAP_TOP} || dirname(dirname(dirname(__FILE__)));
$TOP = '.' if $TOP eq '';
my $LIST = "$TOP/docs/log-ids.md";

# Log calls whose format is not a literal: each one, and why it needs no
# id of its own.  The key is FILE: then the call's arguments from the
# format on, blanks squeezed.
my %RELAY = (
    'certmap_logon_helper.c: "%s", message' =>
        'certmap_helper_log writes the logon helper\'s lines, each of which '
        . 'its logond_log call in certmap_logond.c has tagged',
);

# Ids allowed at more than one place, and why (one message, several
# sites).  None today.
my %SHARED = (
);

# Where each logging function takes its level and its format (0-based,
# APLOG_MARK counted as one argument, as it is written).
my %CALLS = (
    ap_log_error   => [1, 4],
    ap_log_rerror  => [1, 4],
    ap_log_cerror  => [1, 4],
    ap_log_perror  => [1, 4],
    ap_log_cserror => [1, 5],
    logond_log     => [1, 2],
);
my %LEVEL = (
    APLOG_EMERG => 'emerg', APLOG_ALERT => 'alert', APLOG_CRIT => 'crit',
    APLOG_ERR => 'error', APLOG_WARNING => 'warn', APLOG_NOTICE => 'notice',
    APLOG_INFO => 'info', APLOG_DEBUG => 'debug',
    (map { ("APLOG_TRACE$_" => "trace$_") } 1 .. 8),
    CERTMAP_LOGOND_LOG_ERR => 'error', CERTMAP_LOGOND_LOG_WARN => 'warn',
    CERTMAP_LOGOND_LOG_INFO => 'info', CERTMAP_LOGOND_LOG_DEBUG => 'debug',
);

my @problems;                   # [check, text]
sub problem { my $check = shift; push @problems, [$check, join('', @_)] }

# The source with comments and character literals blanked (newlines kept,
# so offsets give lines); string literals are kept as they are.
sub strip_comments {
    my ($s) = @_;
    my $out = '';
    my $n = length $s;
    my $i = 0;
    while ($i < $n) {
        my $c = substr($s, $i, 1);
        my $two = substr($s, $i, 2);
        if ($two eq '/*') {
            my $end = index($s, '*/', $i + 2);
            $end = $n - 2 if $end < 0;
            (my $blank = substr($s, $i, $end + 2 - $i)) =~ tr/\n/ /c;
            $out .= $blank;
            $i = $end + 2;
        }
        elsif ($two eq '//') {
            my $end = index($s, "\n", $i);
            $end = $n if $end < 0;
            $out .= ' ' x ($end - $i);
            $i = $end;
        }
        elsif ($c eq '"' || $c eq "'") {
            my $j = $i + 1;
            while ($j < $n && substr($s, $j, 1) ne $c) {
                $j += substr($s, $j, 1) eq '\\' ? 2 : 1;
            }
            # a character literal blanked: '"' starts no string
            $out .= $c eq '"' ? substr($s, $i, $j + 1 - $i)
                              : "'" . (' ' x ($j - $i - 1)) . "'";
            $i = $j + 1;
        }
        else {
            $out .= $c;
            $i++;
        }
    }
    return $out;
}

sub line_of { my ($s, $off) = @_; return 1 + (substr($s, 0, $off) =~ tr/\n//) }

# The top-level arguments of the call whose '(' is at $open.
sub call_args {
    my ($s, $open) = @_;
    my ($depth, $i, $start, @args) = (0, $open, $open + 1);
    my $n = length $s;
    for (; $i < $n; $i++) {
        my $c = substr($s, $i, 1);
        if ($c eq '"' || $c eq "'") {
            my $j = $i + 1;
            while ($j < $n && substr($s, $j, 1) ne $c) {
                $j += substr($s, $j, 1) eq '\\' ? 2 : 1;
            }
            $i = $j;
        }
        elsif ($c eq '(') { $depth++ }
        elsif ($c eq ')') {
            if (--$depth == 0) {
                push @args, substr($s, $start, $i - $start);
                last;
            }
        }
        elsif ($c eq ',' && $depth == 1) {
            push @args, substr($s, $start, $i - $start);
            $start = $i + 1;
        }
    }
    s/^\s+|\s+$//g for @args;
    return @args;
}

my @files = sort(glob("$TOP/mod_certmap.c"), glob("$TOP/certmap_*.c"),
                 glob("$TOP/certmap_*.h"));
@files or die "check-log-ids: no module sources under $TOP\n";

# id -> ["FILE:LINE", ...]; id -> {file, level, call}
my (%sites, %info, %relayed, $ncalls);
for my $path (@files) {
    my $file = basename($path);
    open my $fh, '<', $path or die "check-log-ids: $path: $!\n";
    my $src = strip_comments(do { local $/; <$fh> });
    close $fh;

    # every id in a string literal
    while ($src =~ /"((?:[^"\\\n]|\\.)*)"/g) {
        my ($lit, $end) = ($1, pos($src));
        my $line = line_of($src, $end);
        while ($lit =~ /CERTMAP(\d+)/g) {
            my $id = "CERTMAP$1";
            if (length($1) != 3) {
                problem('calls', "$file:$line: $id: an id has three digits");
                next;
            }
            push @{$sites{$id}}, "$file:$line";
            $info{$id} //= { file => $file, level => undef };
        }
    }

    # every logging call
    while ($src =~ /\b(ap_log_\w+|logond_log)\s*\(/g) {
        my ($fn, $at, $open) = ($1, $-[0], pos($src) - 1);
        my $line = line_of($src, $at);
        my $from = $at > 40 ? $at - 40 : 0;
        my $before = substr($src, $from, $at - $from);
        next if $before =~ /\b(?:void|define)\s*$/;     # its definition
        my $where = $CALLS{$fn};
        if (!$where) {
            problem('calls', "$file:$line: $fn: a logging call this check "
                    . "does not know; say in %CALLS where its format is");
            next;
        }
        $ncalls++;
        my @args = call_args($src, $open);
        my ($lvl, $fmt) = @args[@$where];
        if (!defined $fmt) {
            problem('calls', "$file:$line: $fn call without a format");
            next;
        }
        if ($fmt =~ /^"CERTMAP(\d{3}): /) {
            my $id = "CERTMAP$1";
            (my $l = $lvl) =~ s/^APLOG_STARTUP\s*\|\s*//;
            $info{$id}{level} = $LEVEL{$l} // "($lvl)";
            $info{$id}{call} = "$file:$line";
            next;
        }
        (my $key = join(', ', @args[$where->[1] .. $#args])) =~ s/\s+/ /g;
        if ($RELAY{"$file: $key"}) {
            $relayed{"$file: $key"}++;
            next;
        }
        problem('calls', "$file:$line: $fn($lvl, ...) does not start its "
                . "message with an id \"CERTMAPnnn: \"");
    }
}
for my $key (sort keys %RELAY) {
    problem('calls', "%RELAY names a call that is not there: $key")
        unless $relayed{$key};
}

sub check_unique {
    for my $id (sort keys %sites) {
        my @at = @{$sites{$id}};
        if (@at > 1 && !$SHARED{$id}) {
            problem('unique', "$id is used at " . scalar(@at) . " places: "
                    . "@at (one message, one id: give the others ids of "
                    . "their own, or say in %SHARED why they are one "
                    . "message)");
        }
    }
    for my $id (sort keys %SHARED) {
        problem('unique', "%SHARED names $id, which is not used at several "
                . "places") unless $sites{$id} && @{$sites{$id}} > 1;
    }
}

sub check_list {
    my $doc = 'docs/log-ids.md';
    open my $fh, '<', $LIST or do { problem('list', "$LIST: $!"); return };
    my (%rows, %retired, $in_retired);
    while (my $l = <$fh>) {
        if ($l =~ /^#/) {
            $in_retired = $l =~ /^#+\s*Retired/i;
            next;
        }
        if ($in_retired) {
            $retired{"CERTMAP$1"} = $. while $l =~ /CERTMAP(\d{3})/g;
            next;
        }
        next unless $l =~ /^\|\s*`?(CERTMAP\d+)`?\s*\|/;
        my $id = $1;
        my (undef, undef, $level, $file, $what) = split /\s*\|\s*/, $l;
        $file =~ s/`//g if defined $file;
        if ($rows{$id}) {
            problem('list', "$doc:$.: $id has a second row (the first is "
                    . "line $rows{$id}{line})");
            next;
        }
        if (!defined $what || $what !~ /\w/) {
            problem('list', "$doc:$.: $id: the row needs id, level, file "
                    . "and what it means");
        }
        $rows{$id} = { line => $., level => $level // '',
                       file => $file // '' };
    }
    close $fh;
    %rows or problem('list', "$doc: no table rows (| CERTMAPnnn | level "
                     . "| file | meaning |)");
    for my $id (sort keys %info) {
        my $row = $rows{$id};
        if (!$row) {
            problem('list', "$id ($sites{$id}[0]) is not in $doc");
            next;
        }
        if ($row->{file} ne $info{$id}{file}) {
            problem('list', "$doc:$row->{line}: $id is in "
                    . "$info{$id}{file}, not $row->{file}");
        }
        my $lvl = $info{$id}{level};
        if (defined $lvl && $lvl !~ /^\(/
            && $row->{level} !~ /(?<!\w)\Q$lvl\E(?!\w)/) {
            problem('list', "$doc:$row->{line}: $id is logged at $lvl, "
                    . "the list says '$row->{level}'");
        }
    }
    for my $id (sort keys %rows) {
        problem('list', "$doc:$rows{$id}{line}: $id is in no source file")
            unless $info{$id};
    }
    for my $id (sort keys %retired) {
        problem('list', "$id is retired ($doc:$retired{$id}) but used at "
                . "@{$sites{$id}}") if $sites{$id};
        problem('list', "$doc:$rows{$id}{line}: $id is retired and "
                . "listed") if $rows{$id};
    }
}

my $what = shift(@ARGV) // 'all';
if ($what eq '--code') {
    for my $id (sort keys %info) {
        my @at = @{$sites{$id}};
        printf "%s %-6s %s%s\n", $id, $info{$id}{level} // '-',
               $info{$id}{call} // "$at[0] (no log call)",
               @at > 1 ? " (also at @at[1 .. $#at])" : '';
    }
    exit 0;
}
$what =~ /^(calls|unique|list|all)$/
    or die "usage: check-log-ids.pl [calls|unique|list|all|--code]\n";
check_unique();
check_list();
@problems = grep { $what eq 'all' || $_->[0] eq $what } @problems;
print "$_->[1]\n" for @problems;
printf "check-log-ids %s: %d log calls, %d ids, %d problem(s)\n", $what,
       $ncalls // 0, scalar(keys %info), scalar(@problems);
exit(@problems ? 1 : 0);
