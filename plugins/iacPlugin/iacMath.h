/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Per-element arithmetic of the IAC (Iterative Adaptive Convolution) and the launch plan of its
 * kernel. Everything here compiles for the GPU (nvcc) and for the CPU (g++ without CUDA), so the
 * CPU tests run exactly the maths the kernel runs.
 */
#ifndef IFAN_IAC_MATH_H
#define IFAN_IAC_MATH_H

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define IFAN_HD __host__ __device__ __forceinline__
#else
#define IFAN_HD inline
#endif

// unrolling matters on the device; the host compiler (also nvcc's host pass) does its own
#if defined(__CUDA_ARCH__)
#define IFAN_UNROLL _Pragma("unroll")
#else
#define IFAN_UNROLL
#endif

namespace ifan
{
namespace iac
{

//! Attribute codes shared with the ONNX export (ifan_trt.contract.MODE_CODES / LAYOUT_CODES).
enum Mode : int32_t
{
    kMODE_OFFICIAL = 0,  //!< kernel1 for both passes (every released checkpoint)
    kMODE_CORRECTED = 1, //!< kernel1 vertical, kernel2 horizontal
};

enum Layout : int32_t
{
    kLAYOUT_FULL = 0,    //!< N x [kernel1 (c*k), kernel2 (c*k)], then N x bias (c)
    kLAYOUT_COMPACT = 1, //!< N x kernel1 (c*k), then N x bias (c)
};

constexpr int32_t kMAX_TAPS = 7;

//! The problem one plugin call solves; sizes of the features [B, C, H, W].
struct Problem
{
    int32_t B;
    int32_t C;
    int32_t H;
    int32_t W;
    int32_t N;      //!< iterations
    int32_t k;      //!< taps per pass (odd, 1..7)
    int32_t mode;   //!< Mode
    int32_t layout; //!< Layout
    float slope;    //!< leaky ReLU negative slope
};

IFAN_HD int32_t clampIndex(int32_t i, int32_t n)
{
    return i < 0 ? 0 : (i >= n ? n - 1 : i);
}

IFAN_HD float leakyRelu(float v, float slope)
{
    return v >= 0.0F ? v : v * slope;
}

//! Channels of the filter tensor for a layout: N*C*(2k+1) full, N*C*(k+1) compact.
IFAN_HD int64_t filterChannels(int32_t N, int32_t C, int32_t k, int32_t layout)
{
    int64_t const perIter = layout == kLAYOUT_FULL ? 2 * k + 1 : k + 1;
    return static_cast<int64_t>(N) * C * perIter;
}

//! Filter channel of tap t of the vertical (second == false) or horizontal kernel of channel ch in
//! iteration i. The horizontal pass reads kernel1 again in official mode, kernel2 in corrected mode.
IFAN_HD int64_t kernelChannel(Problem const& p, int32_t i, int32_t ch, int32_t t, bool horizontal)
{
    int64_t const kernels = static_cast<int64_t>(p.C) * p.k;
    int64_t const perIter = p.layout == kLAYOUT_FULL ? 2 * kernels : kernels;
    int64_t const second = (horizontal && p.mode == kMODE_CORRECTED) ? kernels : 0;
    return i * perIter + second + static_cast<int64_t>(ch) * p.k + t;
}

//! Filter channel of the bias of channel ch in iteration i (biases follow all N kernel blocks).
IFAN_HD int64_t biasChannel(Problem const& p, int32_t i, int32_t ch)
{
    int64_t const kernels = static_cast<int64_t>(p.C) * p.k;
    int64_t const perIter = p.layout == kLAYOUT_FULL ? 2 * kernels : kernels;
    return p.N * perIter + static_cast<int64_t>(i) * p.C + ch;
}

//! Why a problem cannot run, or nullptr. Shared by the plugin's checks and the CPU reference.
inline char const* problemError(Problem const& p)
{
    if (p.N < 1)
    {
        return "N (iterations) must be >= 1";
    }
    if (p.k < 1 || p.k > kMAX_TAPS || p.k % 2 == 0)
    {
        return "k must be odd and between 1 and 7";
    }
    if (p.mode != kMODE_OFFICIAL && p.mode != kMODE_CORRECTED)
    {
        return "mode must be 0 (official) or 1 (corrected)";
    }
    if (p.layout != kLAYOUT_FULL && p.layout != kLAYOUT_COMPACT)
    {
        return "layout must be 0 (full) or 1 (compact)";
    }
    if (p.mode == kMODE_CORRECTED && p.layout == kLAYOUT_COMPACT)
    {
        return "the compact layout drops kernel2, which corrected mode (1) reads: use layout 0";
    }
    if (p.B < 0 || p.C < 0 || p.H < 0 || p.W < 0)
    {
        return "negative dimension";
    }
    return nullptr;
}

// ---- IEEE half precision on the host (the device uses cuda_fp16) --------------------------------

//! float -> binary16 bits, round to nearest even (what __float2half_rn does).
inline uint16_t floatToHalfBits(float f)
{
    uint32_t x;
    std::memcpy(&x, &f, sizeof(x));
    uint32_t const sign = (x >> 16) & 0x8000U;
    uint32_t const absx = x & 0x7FFFFFFFU;
    if (absx >= 0x7F800000U) // inf or nan
    {
        return static_cast<uint16_t>(sign | 0x7C00U | (absx > 0x7F800000U ? 0x200U : 0U));
    }
    if (absx >= 0x477FF000U) // rounds to >= 65520: overflow to inf
    {
        return static_cast<uint16_t>(sign | 0x7C00U);
    }
    int32_t const exponent = static_cast<int32_t>(absx >> 23) - 127;
    if (exponent < -25) // below half the smallest subnormal: zero
    {
        return static_cast<uint16_t>(sign);
    }
    uint32_t mantissa = (absx & 0x7FFFFFU) | 0x800000U; // 24 significant bits
    // normal halves keep 11 significant bits; subnormals fewer (exponent < -14)
    int32_t const shift = exponent >= -14 ? 13 : 13 + (-14 - exponent);
    uint32_t const kept = mantissa >> shift;
    uint32_t const rest = mantissa & ((1U << shift) - 1U);
    uint32_t const halfway = 1U << (shift - 1);
    uint32_t rounded = kept + ((rest > halfway || (rest == halfway && (kept & 1U))) ? 1U : 0U);
    if (exponent >= -14)
    {
        // kept includes the implicit bit at position 10; carries move into the exponent field
        uint32_t const bits = (static_cast<uint32_t>(exponent + 15) << 10) + (rounded - 0x400U);
        return static_cast<uint16_t>(sign | bits);
    }
    return static_cast<uint16_t>(sign | rounded); // subnormal (a carry makes the smallest normal)
}

inline float halfBitsToFloat(uint16_t h)
{
    uint32_t const sign = static_cast<uint32_t>(h & 0x8000U) << 16;
    uint32_t exponent = (h >> 10) & 0x1FU;
    uint32_t mantissa = h & 0x3FFU;
    uint32_t bits;
    if (exponent == 0x1FU)
    {
        bits = sign | 0x7F800000U | (mantissa << 13);
    }
    else if (exponent != 0)
    {
        bits = sign | ((exponent + 112U) << 23) | (mantissa << 13);
    }
    else if (mantissa == 0)
    {
        bits = sign;
    }
    else
    {
        // subnormal: normalise
        int32_t e = -1;
        do
        {
            ++e;
            mantissa <<= 1;
        } while ((mantissa & 0x400U) == 0);
        bits = sign | (static_cast<uint32_t>(112 - e) << 23) | ((mantissa & 0x3FFU) << 13);
    }
    float f;
    std::memcpy(&f, &bits, sizeof(f));
    return f;
}

// ---- launch plan -------------------------------------------------------------------------------

//! How one iteration is tiled. A block owns `rows` x (`groups` * `vec`) outputs of one (b, ch)
//! plane; each thread owns one group of `vec` consecutive outputs of one row. The tile also holds
//! `halo` groups on each side (only computed where another tile owns them) and p rows of features
//! above and below.
struct Plan
{
    int32_t vec;     //!< elements per load/store (4 when rows are aligned, else 1)
    int32_t groups;  //!< column groups per tile (threads in x)
    int32_t rows;    //!< rows per tile (threads in y)
    int32_t halo;    //!< halo groups per side: ceil(p / vec)
    int32_t tilesX;  //!< tiles along W
    int32_t tilesY;  //!< tiles along H
    int32_t smemCols; //!< (groups + 2 * halo) * vec
    int64_t smemBytes; //!< feature tile (rows + 2p) plus vertical-pass tile (rows), in float
};

constexpr int32_t kMAX_GROUPS = 64;  //!< 256 columns per tile with vec 4: a 720p or 1080p row
constexpr int32_t kBLOCK_THREADS = 256;

//! canVectorise: W % 4 == 0 and every buffer aligned to 4 elements (the caller checks pointers).
inline Plan makePlan(Problem const& p, bool canVectorise)
{
    Plan plan{};
    plan.vec = (canVectorise && p.W % 4 == 0) ? 4 : 1;
    int32_t const totalGroups = (p.W + plan.vec - 1) / plan.vec;
    plan.groups = totalGroups < kMAX_GROUPS ? totalGroups : kMAX_GROUPS;
    if (plan.groups < 1)
    {
        plan.groups = 1;
    }
    int32_t rows = kBLOCK_THREADS / plan.groups;
    plan.rows = rows < p.H ? rows : (p.H > 0 ? p.H : 1);
    int32_t const pad = (p.k - 1) / 2;
    plan.halo = (pad + plan.vec - 1) / plan.vec;
    plan.tilesX = (totalGroups + plan.groups - 1) / plan.groups;
    plan.tilesY = (p.H + plan.rows - 1) / plan.rows;
    plan.smemCols = (plan.groups + 2 * plan.halo) * plan.vec;
    plan.smemBytes = static_cast<int64_t>(2 * plan.rows + 2 * pad) * plan.smemCols
        * static_cast<int64_t>(sizeof(float));
    return plan;
}

} // namespace iac
} // namespace ifan

#endif // IFAN_IAC_MATH_H
