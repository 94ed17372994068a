#nullable enable
using System;

namespace EDiffI.Bridge.Unity.Editor
{
    /// <summary>The seeds of one image of a batch.</summary>
    public readonly struct BatchSeeds
    {
        /// <summary>Seeds of one image.</summary>
        public BatchSeeds(long seed, long? variationSeed)
        {
            Seed = seed;
            VariationSeed = variationSeed;
        }

        /// <summary>The image's seed.</summary>
        public long Seed { get; }

        /// <summary>The variation seed mixed into its noise; null for a plain image.</summary>
        public long? VariationSeed { get; }
    }

    /// <summary>
    /// What a batch draws, as the CLI's batches do: <c>count</c> images of consecutive seeds, or, for variations, one seed
    /// with consecutive variation seeds (A1111's "variations": the same image nudged toward other noise). Plain C#, so
    /// the tests run it.
    /// </summary>
    public static class BatchPlan
    {
        /// <summary>Most images in one batch.</summary>
        public const int MaxCount = 16;

        /// <summary>The seeds of each image of the batch.</summary>
        /// <exception cref="ArgumentException">A count outside 1 to <see cref="MaxCount"/>, a negative seed, or seeds that would run past the largest one.</exception>
        public static BatchSeeds[] Seeds(int count, long seed, bool variations, long variationSeed)
        {
            if (count < 1 || count > MaxCount) throw new ArgumentException($"A batch has 1 to {MaxCount} images (it is {count}).", nameof(count));
            if (seed < 0 || variationSeed < 0) throw new ArgumentException("Seeds are 0 or more.", nameof(seed));
            long counted = variations ? variationSeed : seed;
            if (counted > long.MaxValue - (count - 1)) throw new ArgumentException($"The {(variations ? "variation seed" : "seed")} is too large for a batch of {count}: each image takes the next one.", nameof(seed));
            var plan = new BatchSeeds[count];
            for (int i = 0; i < count; i++)
                plan[i] = variations ? new BatchSeeds(seed, variationSeed + i) : new BatchSeeds(seed + i, null);
            return plan;
        }
    }
}
