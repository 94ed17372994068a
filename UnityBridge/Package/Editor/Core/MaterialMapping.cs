#nullable enable
using System;
using System.Collections.Generic;

namespace EDiffI.Bridge.Unity.Editor
{
    /// <summary>The render pipelines the package makes materials for.</summary>
    public enum RenderPipelineKind
    {
        /// <summary>The Built-in Render Pipeline (no render pipeline asset): the Standard shader.</summary>
        BuiltIn,
        /// <summary>The Universal Render Pipeline: Universal Render Pipeline/Lit.</summary>
        Universal,
        /// <summary>The High Definition Render Pipeline: HDRP/Lit.</summary>
        HighDefinition,
        /// <summary>Some other scriptable render pipeline: no material is made.</summary>
        Unknown,
    }

    /// <summary>One texture of a material: which shader property takes which saved map.</summary>
    public readonly struct TextureSlot
    {
        /// <summary>A slot.</summary>
        public TextureSlot(string property, MapKind map, string? keyword)
        {
            Property = property;
            Map = map;
            Keyword = keyword;
        }

        /// <summary>The shader's texture property (for example "_BumpMap").</summary>
        public string Property { get; }

        /// <summary>The map it takes.</summary>
        public MapKind Map { get; }

        /// <summary>The shader keyword that turns the slot on, when the shader has one; null when it samples the texture regardless.</summary>
        public string? Keyword { get; }
    }

    /// <summary>What a material of one pipeline is made of: shader, texture slots and the scalar settings that go with them.</summary>
    public sealed class MaterialLayout
    {
        internal MaterialLayout(RenderPipelineKind pipeline, string shader, MapKind smoothnessMap, TextureSlot[] slots,
            KeyValuePair<string, float>[] floats, KeyValuePair<string, float>[] smoothnessFromMap, KeyValuePair<string, float>[] smoothnessConstant)
        {
            Pipeline = pipeline;
            Shader = shader;
            SmoothnessMap = smoothnessMap;
            Slots = slots;
            _floats = floats;
            _smoothnessFromMap = smoothnessFromMap;
            _smoothnessConstant = smoothnessConstant;
        }

        private readonly KeyValuePair<string, float>[] _floats;
        private readonly KeyValuePair<string, float>[] _smoothnessFromMap;
        private readonly KeyValuePair<string, float>[] _smoothnessConstant;

        /// <summary>The pipeline.</summary>
        public RenderPipelineKind Pipeline { get; }

        /// <summary>The shader's name for Shader.Find.</summary>
        public string Shader { get; }

        /// <summary>
        /// The packed map that carries smoothness (1 − roughness) for this shader: none of the three reads a roughness map,
        /// Standard and URP Lit take smoothness in the alpha of their metallic map, HDRP Lit in the alpha of its mask map.
        /// </summary>
        public MapKind SmoothnessMap { get; }

        /// <summary>Every texture slot the package fills, albedo first.</summary>
        public IReadOnlyList<TextureSlot> Slots { get; }

        /// <summary>
        /// The scalar properties of a material holding the maps in <paramref name="present"/>: metallic 0 and the strengths
        /// of the maps, and smoothness from the packed map when it is there (scale 1), else a constant 0.3, so a material
        /// without the map never turns into a mirror.
        /// </summary>
        public List<KeyValuePair<string, float>> FloatsFor(ICollection<MapKind> present)
        {
            if (present == null) throw new ArgumentNullException(nameof(present));
            var floats = new List<KeyValuePair<string, float>>(_floats);
            floats.AddRange(present.Contains(SmoothnessMap) ? _smoothnessFromMap : _smoothnessConstant);
            return floats;
        }

        /// <summary>The maps this layout saves beside the albedo for a PBR set (the raw roughness included, for other tools).</summary>
        public IReadOnlyList<MapKind> PbrFiles()
        {
            var kinds = new List<MapKind> { MapKind.Albedo, MapKind.Height, MapKind.Normal, MapKind.Roughness, MapKind.Occlusion };
            if (!kinds.Contains(SmoothnessMap)) kinds.Add(SmoothnessMap);
            return kinds;
        }
    }

    /// <summary>
    /// Pipeline → shader and property names (Built-in Standard, URP Lit, HDRP Lit). Plain C#, so the tests run it; the
    /// window applies the layout to a Material.
    /// </summary>
    public static class MaterialMapping
    {
        /// <summary>The full type name of URP's pipeline asset.</summary>
        public const string UniversalAssetType = "UnityEngine.Rendering.Universal.UniversalRenderPipelineAsset";

        /// <summary>The full type name of HDRP's pipeline asset.</summary>
        public const string HighDefinitionAssetType = "UnityEngine.Rendering.HighDefinition.HDRenderPipelineAsset";

        /// <summary>The smoothness of a material without a smoothness map (a matte dielectric).</summary>
        public const float ConstantSmoothness = 0.3f;

        /// <summary>The pipeline of the active render pipeline asset's type (GraphicsSettings.currentRenderPipeline); null: Built-in.</summary>
        public static RenderPipelineKind PipelineOf(string? renderPipelineAssetType)
        {
            if (string.IsNullOrEmpty(renderPipelineAssetType)) return RenderPipelineKind.BuiltIn;
            if (renderPipelineAssetType == UniversalAssetType) return RenderPipelineKind.Universal;
            if (renderPipelineAssetType == HighDefinitionAssetType) return RenderPipelineKind.HighDefinition;
            return RenderPipelineKind.Unknown;
        }

        /// <summary>The layout of <paramref name="pipeline"/>.</summary>
        /// <exception cref="NotSupportedException">An unknown pipeline: the package knows no shader of it.</exception>
        public static MaterialLayout For(RenderPipelineKind pipeline)
        {
            switch (pipeline)
            {
                case RenderPipelineKind.BuiltIn:
                    // Standard: occlusion has no keyword (always sampled); smoothness comes from _MetallicGlossMap.a scaled by _GlossMapScale.
                    return new MaterialLayout(pipeline, "Standard", MapKind.MetallicSmoothness,
                        new[]
                        {
                            new TextureSlot("_MainTex", MapKind.Albedo, null),
                            new TextureSlot("_BumpMap", MapKind.Normal, "_NORMALMAP"),
                            new TextureSlot("_ParallaxMap", MapKind.Height, "_PARALLAXMAP"),
                            new TextureSlot("_OcclusionMap", MapKind.Occlusion, null),
                            new TextureSlot("_MetallicGlossMap", MapKind.MetallicSmoothness, "_METALLICGLOSSMAP"),
                        },
                        Pairs(("_Metallic", 0f), ("_Parallax", 0.02f), ("_OcclusionStrength", 1f), ("_BumpScale", 1f)),
                        Pairs(("_GlossMapScale", 1f), ("_SmoothnessTextureChannel", 0f)),
                        Pairs(("_Glossiness", ConstantSmoothness)));
                case RenderPipelineKind.Universal:
                    // URP Lit: with _METALLICSPECGLOSSMAP, smoothness is the map's alpha times _Smoothness.
                    return new MaterialLayout(pipeline, "Universal Render Pipeline/Lit", MapKind.MetallicSmoothness,
                        new[]
                        {
                            new TextureSlot("_BaseMap", MapKind.Albedo, null),
                            new TextureSlot("_BumpMap", MapKind.Normal, "_NORMALMAP"),
                            new TextureSlot("_ParallaxMap", MapKind.Height, "_PARALLAXMAP"),
                            new TextureSlot("_OcclusionMap", MapKind.Occlusion, "_OCCLUSIONMAP"),
                            new TextureSlot("_MetallicGlossMap", MapKind.MetallicSmoothness, "_METALLICSPECGLOSSMAP"),
                        },
                        Pairs(("_WorkflowMode", 1f), ("_Metallic", 0f), ("_Parallax", 0.02f), ("_OcclusionStrength", 1f), ("_BumpScale", 1f)),
                        Pairs(("_Smoothness", 1f), ("_SmoothnessTextureChannel", 0f)),
                        Pairs(("_Smoothness", ConstantSmoothness)));
                case RenderPipelineKind.HighDefinition:
                    // HDRP Lit has no occlusion or smoothness slot of its own: both go into the mask map (R metallic, G occlusion,
                    // B detail mask, A smoothness), remapped by the *RemapMin/Max pairs. The height map is assigned; displacement
                    // stays as the material has it (None by default), to be chosen in the inspector.
                    return new MaterialLayout(pipeline, "HDRP/Lit", MapKind.HdrpMask,
                        new[]
                        {
                            new TextureSlot("_BaseColorMap", MapKind.Albedo, null),
                            new TextureSlot("_NormalMap", MapKind.Normal, "_NORMALMAP"),
                            new TextureSlot("_HeightMap", MapKind.Height, "_HEIGHTMAP"),
                            new TextureSlot("_MaskMap", MapKind.HdrpMask, "_MASKMAP"),
                        },
                        Pairs(("_Metallic", 0f), ("_NormalMapSpace", 0f), ("_NormalScale", 1f)),
                        Pairs(("_SmoothnessRemapMin", 0f), ("_SmoothnessRemapMax", 1f), ("_AORemapMin", 0f), ("_AORemapMax", 1f)),
                        Pairs(("_Smoothness", ConstantSmoothness)));
                default:
                    throw new NotSupportedException("The active render pipeline is neither Built-in, URP nor HDRP: the package knows no lit shader of it, so it makes no material (the textures are saved).");
            }
        }

        /// <summary>The keywords a material of <paramref name="layout"/> needs when it holds the maps in <paramref name="present"/>.</summary>
        public static List<string> Keywords(MaterialLayout layout, ICollection<MapKind> present)
        {
            var keywords = new List<string>();
            foreach (var slot in layout.Slots)
                if (slot.Keyword != null && present.Contains(slot.Map) && !keywords.Contains(slot.Keyword)) keywords.Add(slot.Keyword);
            if (layout.Pipeline == RenderPipelineKind.HighDefinition && present.Contains(MapKind.Normal)) keywords.Add("_NORMALMAP_TANGENT_SPACE");
            return keywords;
        }

        private static KeyValuePair<string, float>[] Pairs(params (string Name, float Value)[] pairs)
        {
            var result = new KeyValuePair<string, float>[pairs.Length];
            for (int i = 0; i < pairs.Length; i++) result[i] = new KeyValuePair<string, float>(pairs[i].Name, pairs[i].Value);
            return result;
        }
    }
}
