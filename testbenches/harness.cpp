// Verilator harness for any a2qgen design (the top is verilated with
// `--prefix Vtop`). Everything it does is read from files that a2qgen
// writes into the run directory, so Rust and Verilator see one stimulus:
//
//   inputs.hex        one input beat per line, tdata in hexadecimal (MSB first)
//   input_gate.txt    one line of '0'/'1': may a new beat be offered in cycle c
//   output_ready.txt  one line of '0'/'1': m_axis_tready in cycle c
//
// Beyond the end of a schedule line the gate is open and tready high.
// Driver rule in cycle c: a beat offered and not yet accepted stays offered
// (tvalid may not drop); otherwise the next beat is offered when beats remain
// and input_gate[c] is '1'. Cycle 0 is the first cycle after reset (rst_n low
// for two cycles). Every output beat is written to outputs.txt as
// "<cycle> <tdata hex>", in order.
//
// Usage: harness RUN_DIR OUTPUT_BEATS MAX_CYCLES [TRACE.vcd]
// Exit status: 0 all beats seen, 2 bad usage or files, 3 cycle limit reached.

#include "Vtop.h"
#include "verilated.h"
#if VM_TRACE
#include "verilated_vcd_c.h"
#endif

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <type_traits>
#include <vector>

namespace {

// A beat as 32-bit words, least significant first.
using Words = std::vector<uint32_t>;

Words parse_hex(const std::string& hex) {
    Words words;
    uint32_t word = 0;
    int bits = 0;
    for (auto it = hex.rbegin(); it != hex.rend(); ++it) {
        char c = *it;
        uint32_t digit = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : c - 'A' + 10;
        word |= digit << bits;
        bits += 4;
        if (bits == 32) {
            words.push_back(word);
            word = 0;
            bits = 0;
        }
    }
    if (bits) words.push_back(word);
    return words;
}

std::string to_hex(const Words& words, int width_bits) {
    static const char* digits = "0123456789abcdef";
    int count = (width_bits + 3) / 4;
    std::string out(count, '0');
    for (int d = 0; d < count; ++d) {
        size_t word = d / 8;
        uint32_t value = word < words.size() ? (words[word] >> ((d % 8) * 4)) & 0xf : 0;
        out[count - 1 - d] = digits[value];
    }
    return out;
}

// Ports up to 64 bits are integers; wider ones are VlWide word arrays.
template <typename T>
typename std::enable_if<std::is_integral<T>::value>::type set_port(T& port, const Words& w) {
    uint64_t value = 0;
    for (size_t i = 0; i < w.size() && i < 2; ++i) value |= static_cast<uint64_t>(w[i]) << (32 * i);
    port = static_cast<T>(value);
}

template <typename T>
typename std::enable_if<!std::is_integral<T>::value>::type set_port(T& port, const Words& w) {
    for (size_t i = 0; i < sizeof(port) / sizeof(uint32_t); ++i) port[i] = i < w.size() ? w[i] : 0;
}

template <typename T>
typename std::enable_if<std::is_integral<T>::value, Words>::type get_port(const T& port) {
    uint64_t value = port;
    return Words{static_cast<uint32_t>(value), static_cast<uint32_t>(value >> 32)};
}

template <typename T>
typename std::enable_if<!std::is_integral<T>::value, Words>::type get_port(const T& port) {
    Words w(sizeof(port) / sizeof(uint32_t));
    for (size_t i = 0; i < w.size(); ++i) w[i] = port[i];
    return w;
}

std::string read_line(const std::string& path) {
    std::ifstream file(path);
    std::string line;
    std::getline(file, line);
    return line;
}

bool schedule_at(const std::string& line, uint64_t cycle) {
    return cycle >= line.size() || line[cycle] == '1';
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::cerr << "usage: harness RUN_DIR OUTPUT_BEATS MAX_CYCLES [TRACE.vcd]\n";
        return 2;
    }
    const std::string dir = argv[1];
    const uint64_t expected = std::strtoull(argv[2], nullptr, 10);
    const uint64_t max_cycles = std::strtoull(argv[3], nullptr, 10);

    std::vector<Words> beats;
    {
        std::ifstream file(dir + "/inputs.hex");
        if (!file) {
            std::cerr << "harness: cannot read " << dir << "/inputs.hex\n";
            return 2;
        }
        std::string line;
        while (std::getline(file, line))
            if (!line.empty()) beats.push_back(parse_hex(line));
    }
    const std::string gate = read_line(dir + "/input_gate.txt");
    const std::string ready = read_line(dir + "/output_ready.txt");
    std::ofstream outputs(dir + "/outputs.txt");

    VerilatedContext context;
    Vtop top{&context};
#if VM_TRACE
    VerilatedVcdC* trace = nullptr;
    uint64_t time = 0;
    if (argc > 4) {
        context.traceEverOn(true);
        trace = new VerilatedVcdC;
        top.trace(trace, 99);
        trace->open(argv[4]);
    }
#define DUMP() if (trace) trace->dump(time++)
#else
#define DUMP()
#endif
    const int out_bits = sizeof(top.m_axis_tdata) * 8;

    auto tick = [&]() {
        top.clk = 1;
        top.eval();
        DUMP();
        top.clk = 0;
        top.eval();
        DUMP();
    };

    top.clk = 0;
    top.rst_n = 0;
    top.s_axis_tvalid = 0;
    top.m_axis_tready = 0;
    top.eval();
    tick();
    tick();
    top.rst_n = 1;

    size_t next = 0;
    bool holding = false;
    uint64_t seen = 0;
    uint64_t cycle = 0;
    for (; cycle < max_cycles && seen < expected; ++cycle) {
        const bool offer = holding || (next < beats.size() && schedule_at(gate, cycle));
        top.s_axis_tvalid = offer;
        if (offer) set_port(top.s_axis_tdata, beats[next]);
        top.m_axis_tready = schedule_at(ready, cycle);
        top.eval();
        const bool in_fire = offer && top.s_axis_tready;
        if (top.m_axis_tvalid && top.m_axis_tready) {
            outputs << cycle << ' ' << to_hex(get_port(top.m_axis_tdata), out_bits) << '\n';
            ++seen;
        }
        tick();
        holding = offer && !in_fire;
        if (in_fire) ++next;
    }
#if VM_TRACE
    if (trace) trace->close();
#endif
    outputs.close();
    top.final();
    if (seen < expected) {
        std::cerr << "harness: " << seen << " of " << expected << " output beats after " << cycle
                  << " cycles (" << next << " of " << beats.size() << " input beats accepted)\n";
        return 3;
    }
    std::cout << "cycles " << cycle << "\n";
    return 0;
}
