/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * The phases of one IAC iteration over one tile, written once for the CUDA kernel
 * (iacKernel.cu, one thread per call, __syncthreads between phases) and for the CPU emulation
 * (iacEmulate.h, which loops over blocks and threads). Phases:
 *   0. loadThreadFilters: each thread issues the global loads of its own filters (kernel1 taps,
 *      bias, and kernel2 in corrected mode) into registers. Nothing here depends on shared
 *      memory, so these DRAM round trips overlap phase 1's instead of following it;
 *   1. loadFeatureTile: features of the tile rows plus p rows above and below (clamped), and the
 *      halo columns, into shared memory as float;
 *   2. verticalPass: v = sum_t kernel1[t] * x[row - p + t] into shared memory (threads at the tile
 *      edges also compute a halo group, loading its taps here: only where tilesX > 1);
 *   3. horizontalPass: the (VEC + 2p)-wide window of v read once (whole vectors when VEC = 4, the
 *      replicated image edge selected in registers), h = sum_t K[t] * window[j + t], + bias,
 *      leaky ReLU, stored. K is kernel1 (official mode) or kernel2 (corrected mode).
 * Shared memory is only touched through Smem<VEC>: 16-byte vector accesses on the device when
 * VEC = 4 (every group starts at a multiple of 4 floats), so the lanes of a warp, 16 bytes apart,
 * do not conflict on banks. Each filter element is read from memory once.
 */
#ifndef IFAN_IAC_TILE_H
#define IFAN_IAC_TILE_H

#include "iacMath.h"

namespace ifan
{
namespace iac
{

//! Host stand-in for a half element: the bits of an IEEE binary16.
struct HalfBits
{
    uint16_t bits;
};

//! Element <-> float conversion. The device specialisation for __half lives in iacKernel.cu.
template <typename T>
struct Elem;

template <>
struct Elem<float>
{
    static IFAN_HD float load(float v)
    {
        return v;
    }
    static IFAN_HD float store(float v)
    {
        return v;
    }
};

template <>
struct Elem<HalfBits>
{
    static inline float load(HalfBits v)
    {
        return halfBitsToFloat(v.bits);
    }
    static inline HalfBits store(float v)
    {
        return HalfBits{floatToHalfBits(v)};
    }
};

//! Loads and stores of VEC consecutive elements. This generic version is element by element;
//! iacKernel.cu specialises it with 16-byte (float) and 8-byte (half) vector accesses, valid
//! because the plan only uses VEC = 4 when every row start is 4-element aligned.
template <typename T, int VEC>
struct Io
{
    static IFAN_HD void load(T const* p, float (&out)[VEC])
    {
        IFAN_UNROLL
        for (int j = 0; j < VEC; ++j)
        {
            out[j] = Elem<T>::load(p[j]);
        }
    }
    //! Filters are streamed (read once): the device version bypasses the caches where it can.
    static IFAN_HD void loadStreaming(T const* p, float (&out)[VEC])
    {
        load(p, out);
    }
    static IFAN_HD void store(T* p, float const (&v)[VEC])
    {
        IFAN_UNROLL
        for (int j = 0; j < VEC; ++j)
        {
            p[j] = Elem<T>::store(v[j]);
        }
    }
};

//! Shared-memory accesses of VEC consecutive floats. Element by element here; iacKernel.cu
//! specialises VEC = 4 with float4 accesses (aligned: group starts are multiples of 4 floats).
template <int VEC>
struct Smem
{
    static IFAN_HD void load(float const* p, float (&out)[VEC])
    {
        IFAN_UNROLL
        for (int j = 0; j < VEC; ++j)
        {
            out[j] = p[j];
        }
    }
    static IFAN_HD void store(float* p, float const (&v)[VEC])
    {
        IFAN_UNROLL
        for (int j = 0; j < VEC; ++j)
        {
            p[j] = v[j];
        }
    }
};

//! Arguments of one iteration.
template <typename T>
struct IterArgs
{
    Problem problem;
    Plan plan;
    int32_t iter;
    T const* src;     //!< x_i [B, C, H, W]
    T const* filters; //!< F [B, Cf, H, W]
    T* dst;           //!< x_{i+1} [B, C, H, W]
};

//! Where a block works: plane (b, ch) and the tile's first row and column.
struct Tile
{
    int32_t b;
    int32_t ch;
    int32_t y0;
    int32_t x0;
};

//! plane = b * C + ch; tile = tile row * tilesX + tile column. The kernel takes the tile from
//! blockIdx.x (scheduled first), so the tiles of one plane run together and the p feature rows a
//! tile shares with its neighbours are still in L2.
IFAN_HD Tile tileOf(Problem const& p, Plan const& plan, int32_t plane, int32_t tile)
{
    Tile t;
    t.b = plane / p.C;
    t.ch = plane % p.C;
    t.y0 = (tile / plan.tilesX) * plan.rows;
    t.x0 = (tile % plan.tilesX) * plan.groups * plan.vec;
    return t;
}

//! Offset of element (b, channel, y, x) in a [B, channels, H, W] tensor.
IFAN_HD int64_t offsetOf(Problem const& p, int64_t channels, int32_t b, int64_t channel, int32_t y, int32_t x)
{
    return ((b * channels + channel) * p.H + y) * p.W + x;
}

//! Registers a thread carries from phase 0 to the passes: its own group's filters.
template <int K, int VEC>
struct ThreadState
{
    float kernel1[K][VEC];
    float kernel2[K][VEC]; //!< corrected mode only
    float bias[VEC];
};

IFAN_HD bool groupInImage(Problem const& p, Tile const& tile, int32_t r, int32_t g, int32_t vec)
{
    int32_t const x = tile.x0 + g * vec;
    return tile.y0 + r < p.H && x >= 0 && x < p.W;
}

//! The K taps of kernel1 (horizontal == false) or of the horizontal kernel at (y, x).
template <typename T, int K, int VEC>
IFAN_HD void loadTaps(IterArgs<T> const& a, Tile const& tile, int32_t y, int32_t x, bool horizontal,
    float (&taps)[K][VEC])
{
    Problem const& p = a.problem;
    int64_t const channels = filterChannels(p.N, p.C, p.k, p.layout);
    IFAN_UNROLL
    for (int t = 0; t < K; ++t)
    {
        int64_t const channel = kernelChannel(p, a.iter, tile.ch, t, horizontal);
        Io<T, VEC>::loadStreaming(a.filters + offsetOf(p, channels, tile.b, channel, y, x), taps[t]);
    }
}

//! Phase 0 for thread (gx, r): the global loads of its filters, issued before the first barrier.
template <typename T, int K, int VEC>
IFAN_HD void loadThreadFilters(
    IterArgs<T> const& a, Tile const& tile, int32_t gx, int32_t r, ThreadState<K, VEC>& state)
{
    Problem const& p = a.problem;
    if (!groupInImage(p, tile, r, gx, VEC))
    {
        return;
    }
    int32_t const y = tile.y0 + r;
    int32_t const x = tile.x0 + gx * VEC;
    loadTaps<T, K, VEC>(a, tile, y, x, false, state.kernel1);
    if (p.mode == kMODE_CORRECTED)
    {
        loadTaps<T, K, VEC>(a, tile, y, x, true, state.kernel2);
    }
    int64_t const channels = filterChannels(p.N, p.C, p.k, p.layout);
    Io<T, VEC>::loadStreaming(
        a.filters + offsetOf(p, channels, tile.b, biasChannel(p, a.iter, tile.ch), y, x), state.bias);
}

//! Phase 1, all threads of the block share the work: tid in [0, nThreads).
//! smem: feature tile [(rows + 2p) x smemCols], then vertical tile [rows x smemCols].
template <typename T, int K, int VEC>
IFAN_HD void loadFeatureTile(IterArgs<T> const& a, Tile const& tile, float* smem, int32_t tid, int32_t nThreads)
{
    constexpr int32_t P = (K - 1) / 2;
    Problem const& p = a.problem;
    Plan const& plan = a.plan;
    int32_t const groupsWithHalo = plan.groups + 2 * plan.halo;
    int32_t const items = (plan.rows + 2 * P) * groupsWithHalo;
    for (int32_t item = tid; item < items; item += nThreads)
    {
        int32_t const r = item / groupsWithHalo;
        int32_t const g = item % groupsWithHalo - plan.halo;
        int32_t const x = tile.x0 + g * VEC;
        if (x < 0 || x >= p.W)
        {
            continue; // outside the image: never read (columns are clamped into [0, W))
        }
        int32_t const y = clampIndex(tile.y0 - P + r, p.H);
        float v[VEC];
        Io<T, VEC>::load(a.src + offsetOf(p, p.C, tile.b, tile.ch, y, x), v);
        Smem<VEC>::store(smem + r * plan.smemCols + (g + plan.halo) * VEC, v);
    }
}

//! v of one column group g (tile-relative, may be a halo group) of tile row r, from its taps.
template <int K, int VEC>
IFAN_HD void verticalGroup(Plan const& plan, float* smem, int32_t r, int32_t g, float const (&kernel1)[K][VEC])
{
    constexpr int32_t P = (K - 1) / 2;
    int32_t const col = (g + plan.halo) * VEC;
    float acc[VEC];
    IFAN_UNROLL
    for (int j = 0; j < VEC; ++j)
    {
        acc[j] = 0.0F;
    }
    IFAN_UNROLL
    for (int t = 0; t < K; ++t)
    {
        // feature tile row r + t holds image row clamp(y - p + t)
        float xs[VEC];
        Smem<VEC>::load(smem + (r + t) * plan.smemCols + col, xs);
        IFAN_UNROLL
        for (int j = 0; j < VEC; ++j)
        {
            acc[j] += kernel1[t][j] * xs[j];
        }
    }
    Smem<VEC>::store(smem + (plan.rows + 2 * P + r) * plan.smemCols + col, acc);
}

//! Phase 2 for thread (gx, r): its own group, and a halo group for the threads at the tile edges
//! (needed only where a neighbouring tile owns those columns; elsewhere they are outside [0, W)
//! or inside this tile).
template <typename T, int K, int VEC>
IFAN_HD void verticalPass(
    IterArgs<T> const& a, Tile const& tile, float* smem, int32_t gx, int32_t r, ThreadState<K, VEC> const& state)
{
    Problem const& p = a.problem;
    Plan const& plan = a.plan;
    if (groupInImage(p, tile, r, gx, VEC))
    {
        verticalGroup<K, VEC>(plan, smem, r, gx, state.kernel1);
    }
    if constexpr (K == 1)
    {
        return; // no halo: p = 0
    }
    if (plan.halo > 0 && plan.tilesX > 1)
    {
        // a tile of several spans 64 groups >= 2 * halo: a thread has at most one halo group
        int32_t const g = gx < plan.halo ? gx - plan.halo : gx + plan.halo;
        if ((gx < plan.halo || gx >= plan.groups - plan.halo) && groupInImage(p, tile, r, g, VEC))
        {
            float taps[K][VEC];
            loadTaps<T, K, VEC>(a, tile, tile.y0 + r, tile.x0 + g * VEC, false, taps);
            verticalGroup<K, VEC>(plan, smem, r, g, taps);
        }
    }
}

//! The v values of image columns x - p ... x + VEC - 1 + p of one row (vs: the row's shared
//! memory, col: the group's column in it), each read once, the image edge replicated.
template <int K, int VEC>
IFAN_HD void loadWindow(float const* vs, int32_t col, int32_t x, int32_t width, float (&window)[VEC + K - 1])
{
    constexpr int32_t P = (K - 1) / 2;
    static_assert(VEC == 1 || VEC == 4, "groups of 1 or 4 columns");
    if constexpr (VEC == 1)
    {
        // clamped columns: shared-memory addresses may depend on the data, register indices may not
        IFAN_UNROLL
        for (int i = 0; i < K; ++i)
        {
            window[i] = vs[col + clampIndex(x - P + i, width) - x];
        }
    }
    else
    {
        static_assert(P <= VEC, "the window spans the neighbouring groups only");
        // whole vectors: the group and, for p > 0, its neighbours (halo groups at the tile edges)
        float own[VEC];
        float left[VEC];
        float right[VEC];
        Smem<VEC>::load(vs + col, own);
        if constexpr (P > 0)
        {
            Smem<VEC>::load(vs + col - VEC, left);
            Smem<VEC>::load(vs + col + VEC, right);
        }
        IFAN_UNROLL
        for (int i = 0; i < VEC + 2 * P; ++i)
        {
            float const v = i < P ? left[VEC - P + i] : (i < P + VEC ? own[i - P] : right[i - P - VEC]);
            // outside [0, W) the edge is replicated; it lies in this group: W % VEC == 0 and p < VEC,
            // so a column left of 0 means x == 0, one right of W - 1 means x + VEC == W
            int32_t const c = x - P + i;
            window[i] = c < 0 ? own[0] : (c >= width ? own[VEC - 1] : v);
        }
    }
}

//! Phase 3 for thread (gx, r): horizontal pass, bias, leaky ReLU, store.
template <typename T, int K, int VEC>
IFAN_HD void horizontalPass(
    IterArgs<T> const& a, Tile const& tile, float* smem, int32_t gx, int32_t r, ThreadState<K, VEC> const& state)
{
    constexpr int32_t P = (K - 1) / 2;
    Problem const& p = a.problem;
    Plan const& plan = a.plan;
    if (!groupInImage(p, tile, r, gx, VEC))
    {
        return;
    }
    int32_t const y = tile.y0 + r;
    int32_t const x = tile.x0 + gx * VEC;
    float window[VEC + K - 1];
    loadWindow<K, VEC>(smem + (plan.rows + 2 * P + r) * plan.smemCols, (gx + plan.halo) * VEC, x, p.W, window);
    bool const corrected = p.mode == kMODE_CORRECTED;
    float out[VEC];
    IFAN_UNROLL
    for (int j = 0; j < VEC; ++j)
    {
        float acc = 0.0F;
        IFAN_UNROLL
        for (int t = 0; t < K; ++t)
        {
            // official checkpoints read kernel1 again (the official code's mistake, trained in)
            float const tap = corrected ? state.kernel2[t][j] : state.kernel1[t][j];
            acc += tap * window[j + t];
        }
        out[j] = leakyRelu(acc + state.bias[j], p.slope);
    }
    Io<T, VEC>::store(a.dst + offsetOf(p, p.C, tile.b, tile.ch, y, x), out);
}

} // namespace iac
} // namespace ifan

#endif // IFAN_IAC_TILE_H
