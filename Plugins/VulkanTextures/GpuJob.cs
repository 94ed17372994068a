using System.Runtime.InteropServices;
using Silk.NET.Vulkan;

namespace EDiffI.Plugins.VulkanTextures;

/// <summary>
/// One submission: uploads through staging buffers into device-local buffers, dispatches, and copies results back,
/// recorded in order into one command buffer with a memory barrier between steps; <see cref="Submit"/> runs it and
/// waits. The job owns every buffer and descriptor set it made and frees them when disposed.
/// </summary>
internal sealed unsafe class GpuJob : IDisposable
{
    private const BufferUsageFlags DeviceUsage = BufferUsageFlags.StorageBufferBit | BufferUsageFlags.TransferSrcBit | BufferUsageFlags.TransferDstBit;
    private readonly VulkanContext _c;
    private readonly CommandBuffer _cmd;
    private readonly List<GpuBuffer> _buffers = [];
    private readonly List<DescriptorSet> _sets = [];
    private readonly string _what;
    private bool _submitted;

    public GpuJob(VulkanContext context, string what)
    {
        _c = context;
        _what = what;
        var info = new CommandBufferAllocateInfo { SType = StructureType.CommandBufferAllocateInfo, CommandPool = context.CommandPool, Level = CommandBufferLevel.Primary, CommandBufferCount = 1 };
        CommandBuffer cmd;
        VulkanContext.Check(context.Vk.AllocateCommandBuffers(context.Device, &info, &cmd), "vkAllocateCommandBuffers");
        _cmd = cmd;
        var begin = new CommandBufferBeginInfo { SType = StructureType.CommandBufferBeginInfo, Flags = CommandBufferUsageFlags.OneTimeSubmitBit };
        VulkanContext.Check(context.Vk.BeginCommandBuffer(cmd, &begin), "vkBeginCommandBuffer");
    }

    /// <summary>A device buffer holding <paramref name="data"/> once the job runs.</summary>
    public GpuBuffer Upload<T>(ReadOnlySpan<T> data) where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(data);
        var staging = Own(_c.CreateBuffer((ulong)bytes.Length, BufferUsageFlags.TransferSrcBit, MemoryPropertyFlags.HostVisibleBit | MemoryPropertyFlags.HostCoherentBit));
        bytes.CopyTo(new Span<byte>(staging.Mapped, bytes.Length));
        var target = Scratch((ulong)bytes.Length);
        var region = new BufferCopy { Size = (ulong)Math.Max(bytes.Length, 1) };
        _c.Vk.CmdCopyBuffer(_cmd, staging.Buffer, target.Buffer, 1, &region);
        Barrier();
        return target;
    }

    /// <summary>An uninitialised device buffer of <paramref name="bytes"/>.</summary>
    public GpuBuffer Scratch(ulong bytes) => Own(_c.CreateBuffer(bytes, DeviceUsage, MemoryPropertyFlags.DeviceLocalBit));

    /// <summary>Records <paramref name="pass"/> over <paramref name="groupsX"/> × <paramref name="groupsY"/> work groups, buffer i at binding i.</summary>
    public void Dispatch<TPush>(ComputePass pass, ReadOnlySpan<GpuBuffer> bindings, in TPush push, uint groupsX, uint groupsY = 1) where TPush : unmanaged
    {
        if (bindings.Length != pass.Bindings) throw new ArgumentException($"{pass.Name} takes {pass.Bindings} buffers, not {bindings.Length}.");
        if (sizeof(TPush) != pass.PushBytes) throw new ArgumentException($"{pass.Name}'s push constants are {pass.PushBytes} bytes, not {sizeof(TPush)}.");
        var layout = pass.SetLayout;
        var alloc = new DescriptorSetAllocateInfo { SType = StructureType.DescriptorSetAllocateInfo, DescriptorPool = _c.DescriptorPool, DescriptorSetCount = 1, PSetLayouts = &layout };
        DescriptorSet set;
        VulkanContext.Check(_c.Vk.AllocateDescriptorSets(_c.Device, &alloc, &set), "vkAllocateDescriptorSets");
        _sets.Add(set);
        var infos = stackalloc DescriptorBufferInfo[bindings.Length];
        var writes = stackalloc WriteDescriptorSet[bindings.Length];
        for (int i = 0; i < bindings.Length; i++)
        {
            infos[i] = new DescriptorBufferInfo { Buffer = bindings[i].Buffer, Offset = 0, Range = Vk.WholeSize };
            writes[i] = new WriteDescriptorSet { SType = StructureType.WriteDescriptorSet, DstSet = set, DstBinding = (uint)i, DescriptorCount = 1, DescriptorType = DescriptorType.StorageBuffer, PBufferInfo = &infos[i] };
        }
        _c.Vk.UpdateDescriptorSets(_c.Device, (uint)bindings.Length, writes, 0, null);
        _c.Vk.CmdBindPipeline(_cmd, PipelineBindPoint.Compute, pass.Pipeline);
        _c.Vk.CmdBindDescriptorSets(_cmd, PipelineBindPoint.Compute, pass.Layout, 0, 1, &set, 0, null);
        var copy = push;
        _c.Vk.CmdPushConstants(_cmd, pass.Layout, ShaderStageFlags.ComputeBit, 0, (uint)sizeof(TPush), &copy);
        _c.Vk.CmdDispatch(_cmd, groupsX, groupsY, 1);
        Barrier();
    }

    /// <summary>Records a copy of <paramref name="source"/> to a host-visible buffer; read it after <see cref="Submit"/>.</summary>
    public GpuBuffer Download(GpuBuffer source)
    {
        var staging = Own(_c.CreateBuffer(source.Size, BufferUsageFlags.TransferDstBit, MemoryPropertyFlags.HostVisibleBit | MemoryPropertyFlags.HostCoherentBit));
        var region = new BufferCopy { Size = Math.Max(source.Size, 1) };
        _c.Vk.CmdCopyBuffer(_cmd, source.Buffer, staging.Buffer, 1, &region);
        return staging;
    }

    /// <summary>Runs the recorded commands and waits for them; fails on any validation message.</summary>
    public void Submit()
    {
        if (_submitted) throw new InvalidOperationException("A job is submitted once.");
        _submitted = true;
        var toHost = new MemoryBarrier { SType = StructureType.MemoryBarrier, SrcAccessMask = AccessFlags.TransferWriteBit | AccessFlags.ShaderWriteBit, DstAccessMask = AccessFlags.HostReadBit };
        _c.Vk.CmdPipelineBarrier(_cmd, PipelineStageFlags.TransferBit | PipelineStageFlags.ComputeShaderBit, PipelineStageFlags.HostBit, 0, 1, &toHost, 0, null, 0, null);
        VulkanContext.Check(_c.Vk.EndCommandBuffer(_cmd), "vkEndCommandBuffer");
        var fenceInfo = new FenceCreateInfo { SType = StructureType.FenceCreateInfo };
        Fence fence;
        VulkanContext.Check(_c.Vk.CreateFence(_c.Device, &fenceInfo, null, &fence), "vkCreateFence");
        try
        {
            var cmd = _cmd;
            var submit = new SubmitInfo { SType = StructureType.SubmitInfo, CommandBufferCount = 1, PCommandBuffers = &cmd };
            VulkanContext.Check(_c.Vk.QueueSubmit(_c.Queue, 1, &submit, fence), "vkQueueSubmit");
            VulkanContext.Check(_c.Vk.WaitForFences(_c.Device, 1, &fence, true, ulong.MaxValue), "vkWaitForFences");
        }
        finally
        {
            _c.Vk.DestroyFence(_c.Device, fence, null);
        }
        _c.ThrowOnValidationMessages(_what);
    }

    /// <summary>The contents of a downloaded buffer as <typeparamref name="T"/>s.</summary>
    public static T[] Read<T>(GpuBuffer downloaded) where T : unmanaged
    {
        var result = new T[(int)(downloaded.Size / (ulong)sizeof(T))];
        new ReadOnlySpan<byte>(downloaded.Mapped, (int)downloaded.Size).CopyTo(MemoryMarshal.AsBytes(result.AsSpan()));
        return result;
    }

    // Every step reads what the steps before it wrote: a full transfer/compute barrier between them.
    private void Barrier()
    {
        var barrier = new MemoryBarrier
        {
            SType = StructureType.MemoryBarrier,
            SrcAccessMask = AccessFlags.TransferWriteBit | AccessFlags.ShaderWriteBit,
            DstAccessMask = AccessFlags.TransferReadBit | AccessFlags.ShaderReadBit | AccessFlags.ShaderWriteBit | AccessFlags.TransferWriteBit,
        };
        var stages = PipelineStageFlags.TransferBit | PipelineStageFlags.ComputeShaderBit;
        _c.Vk.CmdPipelineBarrier(_cmd, stages, stages, 0, 1, &barrier, 0, null, 0, null);
    }

    private GpuBuffer Own(GpuBuffer b)
    {
        _buffers.Add(b);
        return b;
    }

    public void Dispose()
    {
        if (_sets.Count > 0)
        {
            var sets = _sets.ToArray();
            fixed (DescriptorSet* p = sets) _c.Vk.FreeDescriptorSets(_c.Device, _c.DescriptorPool, (uint)sets.Length, p);
        }
        foreach (var b in _buffers) b.Dispose();
        var cmd = _cmd;
        _c.Vk.FreeCommandBuffers(_c.Device, _c.CommandPool, 1, &cmd);
    }
}
