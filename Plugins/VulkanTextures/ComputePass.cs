using Silk.NET.Vulkan;

namespace EDiffI.Plugins.VulkanTextures;

/// <summary>
/// One compute shader with its descriptor layout (<c>bindings</c> storage buffers, binding i = buffer i), its push
/// constants and its pipeline, created once per context and reused by every job.
/// </summary>
internal sealed unsafe class ComputePass : IDisposable
{
    private readonly VulkanContext _context;

    public string Name { get; }
    public int Bindings { get; }
    public int PushBytes { get; }
    public DescriptorSetLayout SetLayout { get; }
    public PipelineLayout Layout { get; }
    public Pipeline Pipeline { get; }
    private readonly ShaderModule _module;

    private ComputePass(VulkanContext context, string name, int bindings, int pushBytes, ShaderModule module, DescriptorSetLayout setLayout, PipelineLayout layout, Pipeline pipeline)
    {
        _context = context;
        Name = name;
        Bindings = bindings;
        PushBytes = pushBytes;
        _module = module;
        SetLayout = setLayout;
        Layout = layout;
        Pipeline = pipeline;
    }

    /// <summary>The SPIR-V of <paramref name="shader"/> as the build embedded it (glslc's output, or the committed copy).</summary>
    public static byte[] Spirv(string shader)
    {
        using var stream = typeof(ComputePass).Assembly.GetManifestResourceStream($"spv/{shader}.spv")
            ?? throw new InvalidOperationException($"The plugin carries no SPIR-V for the shader '{shader}'.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    public static ComputePass Create(VulkanContext context, string shader, int bindings, int pushBytes)
    {
        var vk = context.Vk;
        var device = context.Device;
        var code = Spirv(shader);
        ShaderModule module;
        fixed (byte* p = code)
        {
            var info = new ShaderModuleCreateInfo { SType = StructureType.ShaderModuleCreateInfo, CodeSize = (nuint)code.Length, PCode = (uint*)p };
            VulkanContext.Check(vk.CreateShaderModule(device, &info, null, &module), $"vkCreateShaderModule({shader})");
        }
        var layoutBindings = new DescriptorSetLayoutBinding[bindings];
        for (int i = 0; i < bindings; i++)
            layoutBindings[i] = new DescriptorSetLayoutBinding { Binding = (uint)i, DescriptorType = DescriptorType.StorageBuffer, DescriptorCount = 1, StageFlags = ShaderStageFlags.ComputeBit };
        DescriptorSetLayout setLayout;
        fixed (DescriptorSetLayoutBinding* b = layoutBindings)
        {
            var info = new DescriptorSetLayoutCreateInfo { SType = StructureType.DescriptorSetLayoutCreateInfo, BindingCount = (uint)bindings, PBindings = b };
            VulkanContext.Check(vk.CreateDescriptorSetLayout(device, &info, null, &setLayout), "vkCreateDescriptorSetLayout");
        }
        var range = new PushConstantRange { StageFlags = ShaderStageFlags.ComputeBit, Offset = 0, Size = (uint)pushBytes };
        var layoutInfo = new PipelineLayoutCreateInfo
        {
            SType = StructureType.PipelineLayoutCreateInfo,
            SetLayoutCount = 1,
            PSetLayouts = &setLayout,
            PushConstantRangeCount = pushBytes > 0 ? 1u : 0u,
            PPushConstantRanges = pushBytes > 0 ? &range : null,
        };
        PipelineLayout layout;
        VulkanContext.Check(vk.CreatePipelineLayout(device, &layoutInfo, null, &layout), "vkCreatePipelineLayout");
        var entry = (byte*)System.Runtime.InteropServices.Marshal.StringToHGlobalAnsi("main");
        try
        {
            var pipelineInfo = new ComputePipelineCreateInfo
            {
                SType = StructureType.ComputePipelineCreateInfo,
                Stage = new PipelineShaderStageCreateInfo { SType = StructureType.PipelineShaderStageCreateInfo, Stage = ShaderStageFlags.ComputeBit, Module = module, PName = entry },
                Layout = layout,
            };
            Pipeline pipeline;
            VulkanContext.Check(vk.CreateComputePipelines(device, default, 1, &pipelineInfo, null, &pipeline), $"vkCreateComputePipelines({shader})");
            return new ComputePass(context, shader, bindings, pushBytes, module, setLayout, layout, pipeline);
        }
        finally
        {
            System.Runtime.InteropServices.Marshal.FreeHGlobal((nint)entry);
        }
    }

    public void Dispose()
    {
        var vk = _context.Vk;
        vk.DestroyPipeline(_context.Device, Pipeline, null);
        vk.DestroyPipelineLayout(_context.Device, Layout, null);
        vk.DestroyDescriptorSetLayout(_context.Device, SetLayout, null);
        vk.DestroyShaderModule(_context.Device, _module, null);
    }
}
