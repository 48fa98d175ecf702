// runtime/httplib.hpp: cpp-httplib, without the DNS macros its <resolv.h> leaks.
//
// <arpa/nameser_compat.h> (through httplib.h's <resolv.h>) defines ADD and DELETE, among others.
// They would turn the protobuf enum values pb::ADD and pb::DELETE into ns_uop_* in every file
// compiled after this header in the same unit, which a unity build makes of several files. Include
// this header instead of <httplib.h>.
#pragma once

#include <httplib.h>

#undef ADD
#undef DELETE
