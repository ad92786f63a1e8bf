/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * CPU emulation of one IAC kernel launch: the same plan and the same tile phases as
 * iacKernel.cu (iacTile.h), run over every block and thread in turn, with a barrier between
 * phases simply meaning "all threads of the block finished the previous phase". The Runner of
 * runIac (iacLaunch.h) for the CPU reference (iacEmulate.cpp) and for the CPU twin of
 * libifan_iac_cuda.so (iacCpuApi.cpp). Host code only; no CUDA header.
 */
#ifndef IFAN_IAC_EMULATE_H
#define IFAN_IAC_EMULATE_H

#include <cstdint>
#include <vector>

#include "iacLaunch.h"
#include "iacTile.h"

namespace ifan
{
namespace iac
{

class CpuRunner
{
public:
    //! One launch of iacIterationKernel<T, K, VEC>: every block (plane, tile), each phase by every
    //! thread of the block before the next phase starts.
    template <int K, int VEC, typename T>
    int32_t iteration(IterArgs<T> const& args)
    {
        Problem const& p = args.problem;
        Plan const& plan = args.plan;
        mSmem.assign(static_cast<size_t>(plan.smemBytes / static_cast<int64_t>(sizeof(float))), 0.0F);
        int32_t const nThreads = plan.groups * plan.rows;
        std::vector<ThreadState<K, VEC>> states(static_cast<size_t>(nThreads));
        float* const smem = mSmem.data();
        for (int32_t plane = 0; plane < p.B * p.C; ++plane)
        {
            for (int32_t tileIndex = 0; tileIndex < plan.tilesX * plan.tilesY; ++tileIndex)
            {
                Tile const tile = tileOf(p, plan, plane, tileIndex);
                // poison shared memory: a read of a value no phase wrote shows up as NaN
                for (float& v : mSmem)
                {
                    v = __builtin_nanf("");
                }
                for (int32_t tid = 0; tid < nThreads; ++tid)
                {
                    loadThreadFilters<T, K, VEC>(args, tile, tid % plan.groups, tid / plan.groups, states[tid]);
                    loadFeatureTile<T, K, VEC>(args, tile, smem, tid, nThreads);
                }
                for (int32_t tid = 0; tid < nThreads; ++tid)
                {
                    verticalPass<T, K, VEC>(args, tile, smem, tid % plan.groups, tid / plan.groups, states[tid]);
                }
                for (int32_t tid = 0; tid < nThreads; ++tid)
                {
                    horizontalPass<T, K, VEC>(args, tile, smem, tid % plan.groups, tid / plan.groups, states[tid]);
                }
            }
        }
        return kSTATUS_SUCCESS;
    }

private:
    std::vector<float> mSmem;
};

} // namespace iac
} // namespace ifan

#endif // IFAN_IAC_EMULATE_H
