// Internal: DnsLookup's side of a DNS reply — reading the wire format, the
// mapping of failures to DnsLookup's errors, and the RFC orderings of MX and
// SRV records. Pure functions, tested on their own.
#pragma once

#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include "addressing/resolver.h"
#include "tether/dns_lookup.h"

namespace tether::detail {

// The reply for a failure, with no records.
DnsLookup::Reply dnsFailure(DnsLookup::Error error, std::string text);

// The reply for one finished query: its records sorted when the server
// answered, else the error c-ares's status stands for.
DnsLookup::Reply dnsReplyOf(const QueryResult& result);

// Reads a reply as it came from the server (RFC 1035 section 4): the rcode,
// then every answer record of class IN and a known type, in the server's
// order. A reply cut short ends the records without an error, as in Qt.
DnsLookup::Reply parseDnsReply(const unsigned char* data, std::size_t size);

// RFC 5321 section 5.1: by preference, equal preferences shuffled.
void sortMailExchangeRecords(std::vector<DnsMailExchangeRecord>& records, std::mt19937& random);

// RFC 2782: by priority; within a priority, repeatedly pick one record with
// a probability proportional to its weight (zero weights first, each then
// picked only by a draw of zero).
void sortServiceRecords(std::vector<DnsServiceRecord>& records, std::mt19937& random);

}  // namespace tether::detail
