/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * CUDA kernels of the IAC: one launch per iteration, each fusing the vertical and the horizontal
 * pass over a shared-memory tile (iacTile.h), N launches queued by one launchIac() call.
 */
#include "iacKernel.h"
#include "iacTile.h"

#include <cstdint>
#include <cstring>

namespace ifan
{
namespace iac
{

// Streaming (evict-first) loads, ld.global.cs: what __ldcs does, written out so that every CUDA
// compiler (nvcc, clang) accepts it for these vector types.
__device__ __forceinline__ float4 loadStreaming(float4 const* p)
{
    float4 v;
    asm("ld.global.cs.v4.f32 {%0, %1, %2, %3}, [%4];" : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w) : "l"(p));
    return v;
}

__device__ __forceinline__ uint2 loadStreaming(uint2 const* p)
{
    uint2 v;
    asm("ld.global.cs.v2.u32 {%0, %1}, [%2];" : "=r"(v.x), "=r"(v.y) : "l"(p));
    return v;
}

__device__ __forceinline__ float loadStreaming(float const* p)
{
    float v;
    asm("ld.global.cs.f32 %0, [%1];" : "=f"(v) : "l"(p));
    return v;
}

__device__ __forceinline__ unsigned short loadStreaming(unsigned short const* p)
{
    unsigned short v;
    asm("ld.global.cs.u16 %0, [%1];" : "=h"(v) : "l"(p));
    return v;
}

template <>
struct Elem<__half>
{
    static IFAN_HD float load(__half v)
    {
        return __half2float(v);
    }
    static IFAN_HD __half store(float v)
    {
        return __float2half_rn(v);
    }
};

// One element: filters still use the streaming (evict-first) load.
template <>
struct Io<float, 1>
{
    static __device__ __forceinline__ void load(float const* p, float (&out)[1])
    {
        out[0] = *p;
    }
    static __device__ __forceinline__ void loadStreaming(float const* p, float (&out)[1])
    {
        out[0] = iac::loadStreaming(p);
    }
    static __device__ __forceinline__ void store(float* p, float const (&v)[1])
    {
        *p = v[0];
    }
};

template <>
struct Io<__half, 1>
{
    static __device__ __forceinline__ void load(__half const* p, float (&out)[1])
    {
        out[0] = __half2float(*p);
    }
    static __device__ __forceinline__ void loadStreaming(__half const* p, float (&out)[1])
    {
        out[0] = __half2float(__ushort_as_half(iac::loadStreaming(reinterpret_cast<unsigned short const*>(p))));
    }
    static __device__ __forceinline__ void store(__half* p, float const (&v)[1])
    {
        *p = __float2half_rn(v[0]);
    }
};

// 16-byte accesses for four floats; filters use the streaming (evict-first) load: read once.
template <>
struct Io<float, 4>
{
    static __device__ __forceinline__ void unpack(float4 v, float (&out)[4])
    {
        out[0] = v.x;
        out[1] = v.y;
        out[2] = v.z;
        out[3] = v.w;
    }
    static __device__ __forceinline__ void load(float const* p, float (&out)[4])
    {
        unpack(*reinterpret_cast<float4 const*>(p), out);
    }
    static __device__ __forceinline__ void loadStreaming(float const* p, float (&out)[4])
    {
        unpack(iac::loadStreaming(reinterpret_cast<float4 const*>(p)), out);
    }
    static __device__ __forceinline__ void store(float* p, float const (&v)[4])
    {
        *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
    }
};

// 8-byte accesses for four halves, converted in pairs.
template <>
struct Io<__half, 4>
{
    static __device__ __forceinline__ void unpack(uint2 raw, float (&out)[4])
    {
        __half2 lo;
        __half2 hi;
        memcpy(&lo, &raw.x, sizeof(lo));
        memcpy(&hi, &raw.y, sizeof(hi));
        float2 const a = __half22float2(lo);
        float2 const b = __half22float2(hi);
        out[0] = a.x;
        out[1] = a.y;
        out[2] = b.x;
        out[3] = b.y;
    }
    static __device__ __forceinline__ void load(__half const* p, float (&out)[4])
    {
        unpack(*reinterpret_cast<uint2 const*>(p), out);
    }
    static __device__ __forceinline__ void loadStreaming(__half const* p, float (&out)[4])
    {
        unpack(iac::loadStreaming(reinterpret_cast<uint2 const*>(p)), out);
    }
    static __device__ __forceinline__ void store(__half* p, float const (&v)[4])
    {
        __half2 const lo = __floats2half2_rn(v[0], v[1]);
        __half2 const hi = __floats2half2_rn(v[2], v[3]);
        uint2 raw;
        memcpy(&raw.x, &lo, sizeof(lo));
        memcpy(&raw.y, &hi, sizeof(hi));
        *reinterpret_cast<uint2*>(p) = raw;
    }
};

// Shared memory in 16-byte vectors: a warp's 32 lanes, 16 bytes apart, read 512 contiguous bytes
// in the minimum 4 wavefronts (scalar accesses 16 bytes apart would conflict 4 ways).
template <>
struct Smem<4>
{
    static __device__ __forceinline__ void load(float const* p, float (&out)[4])
    {
        float4 const v = *reinterpret_cast<float4 const*>(p);
        out[0] = v.x;
        out[1] = v.y;
        out[2] = v.z;
        out[3] = v.w;
    }
    static __device__ __forceinline__ void store(float* p, float const (&v)[4])
    {
        *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
    }
};

namespace
{

//! One iteration: block (tile, plane b*C + ch), threads (column group, row).
template <typename T, int K, int VEC>
__global__ void __launch_bounds__(kBLOCK_THREADS) iacIterationKernel(IterArgs<T> const args)
{
    extern __shared__ __align__(16) float smem[];
    Tile const tile = tileOf(args.problem, args.plan, static_cast<int32_t>(blockIdx.y), static_cast<int32_t>(blockIdx.x));
    int32_t const gx = static_cast<int32_t>(threadIdx.x);
    int32_t const r = static_cast<int32_t>(threadIdx.y);
    // the filter loads first: independent of shared memory, in flight while the tile loads
    ThreadState<K, VEC> state;
    loadThreadFilters<T, K, VEC>(args, tile, gx, r, state);
    int32_t const tid = static_cast<int32_t>(threadIdx.y * blockDim.x + threadIdx.x);
    loadFeatureTile<T, K, VEC>(args, tile, smem, tid, static_cast<int32_t>(blockDim.x * blockDim.y));
    __syncthreads();
    verticalPass<T, K, VEC>(args, tile, smem, gx, r, state);
    __syncthreads();
    horizontalPass<T, K, VEC>(args, tile, smem, gx, r, state);
}

//! Runs each iteration as one kernel launch on a stream (runIac, iacLaunch.h, does the rest).
struct GpuRunner
{
    cudaStream_t stream;

    template <int K, int VEC, typename T>
    int32_t iteration(IterArgs<T> const& args)
    {
        Plan const& plan = args.plan;
        dim3 const grid(
            static_cast<uint32_t>(plan.tilesX * plan.tilesY), static_cast<uint32_t>(args.problem.B * args.problem.C));
        dim3 const block(static_cast<uint32_t>(plan.groups), static_cast<uint32_t>(plan.rows));
        iacIterationKernel<T, K, VEC><<<grid, block, static_cast<size_t>(plan.smemBytes), stream>>>(args);
        return static_cast<int32_t>(cudaGetLastError());
    }
};

} // namespace

static_assert(kSTATUS_SUCCESS == static_cast<int32_t>(cudaSuccess), "status values are cudaError_t values");
static_assert(kSTATUS_INVALID_VALUE == static_cast<int32_t>(cudaErrorInvalidValue), "status values are cudaError_t");
static_assert(kSTATUS_INVALID_CONFIGURATION == static_cast<int32_t>(cudaErrorInvalidConfiguration),
    "status values are cudaError_t values");

template <typename T>
cudaError_t launchIac(Problem const& problem, T const* features, T const* filters, T* out, void* workspace,
    size_t workspaceSize, cudaStream_t stream)
{
    GpuRunner runner{stream};
    return static_cast<cudaError_t>(runIac(problem, features, filters, out, workspace, workspaceSize, runner));
}

template cudaError_t launchIac<float>(
    Problem const&, float const*, float const*, float*, void*, size_t, cudaStream_t);
template cudaError_t launchIac<__half>(
    Problem const&, __half const*, __half const*, __half*, void*, size_t, cudaStream_t);

} // namespace iac
} // namespace ifan
