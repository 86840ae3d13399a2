namespace Spright.Diffusion.Cli.Commands;

internal static class Help
{
    public const string Text = """
        spright — SPRIGHT-T2I and Stable Diffusion 1.x / 2.x on ONNX Runtime, same images as diffusers, no Python.

        Usage:
          spright generate [options]            text-to-image (image-to-image with --init-image)
          spright embed --prompt TEXT [--negative-prompt TEXT] [--prompt-weighting none|lpw|compel]
                        --save-prompt-embeds PATH.npy [--save-negative-embeds PATH.npy] [model options]
                                                the UNet conditioning as generate computes it (float32 [batch, tokens, width])
          spright tokenize --model DIR [--no-padding] [--ftfy] [PROMPT]
                                                print CLIP token ids as JSON; without PROMPT, reads one JSON string per line
          spright bench [options] --runs R      time generate calls, per stage; last line has median_s=
          spright download REPO [--revision R] [--token T] [--cache-dir D] [--offline] [--variant V] [--quiet]
                                                fetch a pipeline from the Hugging Face Hub into its cache (the one Python
                                                uses; HF_HOME, HF_HUB_CACHE, HF_TOKEN, HF_ENDPOINT, HF_HUB_OFFLINE apply);
                                                prints the snapshot folder, per-file progress on stderr
          spright convert --model DIR_OR_REPO --output DIR [--dtype fp32|fp16] [--variant V] [--force]
                                                write a diffusers folder (config.json + safetensors; a repo id is fetched
                                                as generate does: --revision, --token, --cache-dir, --offline) as an
                                                optimum ONNX folder; an existing non-empty DIR needs --force
          spright --version

        model options (generate, embed, bench, convert):
          --model DIR|REPO            a diffusers folder (config.json + safetensors; graphs built and cached, see
                                      SPRIGHT_GRAPH_CACHE), an ONNX export, or a Hub repo id such as
                                      SPRIGHT-T2I/spright-t2i-sd2 (default: the bundled tiny model)
          --variant V                 weights variant, e.g. fp16 (*.fp16.safetensors)
          --dtype fp32|fp16           compute precision (torch_dtype; default: what the model stores)
          --revision R                Hub branch, tag or commit (default main)
          --token T                   Hub token (default HF_TOKEN or the token file)
          --cache-dir D               Hub cache folder (default HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub)
          --offline                   use only the Hub cache, no requests (HF_HUB_OFFLINE=1)

        generate options:
          --prompt TEXT               a prompt; repeat for a batch
          --negative-prompt TEXT      a negative prompt; none, or one per prompt
          --steps N                   denoising steps (default 50)
          --guidance G                classifier-free guidance scale (default 7.5; ≤ 1 disables guidance)
          --guidance-rescale R        guidance rescale in [0, 1] (default 0)
          --eta E                     DDIM eta in [0, 1] (default 0)
          --seed S                    torch-compatible seed (default: random, printed)
          --width W / --height H      image size, multiples of 8 (default: the model's)
          --num-images K              images per prompt (default 1)
          --scheduler NAME            diffusers class, e.g. EulerDiscreteScheduler (default: the model's)
          --scheduler-option K=V      scheduler option, e.g. use_karras_sigmas=true; repeatable
          --init-image PATH           start from this image (image-to-image)
          --strength S                image-to-image strength in [0, 1] (default 0.8)
          --prompt-weighting W        none | lpw (A1111 "(word:1.2)", long prompts) | compel ("word++", .and()) (default none)
          --vae-tiling                decode (and encode) in overlapping tiles, as diffusers' vae.enable_tiling()
          --vae-slicing               decode the batch one image at a time, as vae.enable_slicing()
          --no-small-graph-tuning     no tuning for tiny graphs (on by default; changes graphs under 64 MiB only)
          --provider P                cpu | cuda | directml | auto (default cpu)
          --device-id N               GPU index (default 0)
          --output PATH.png           where to write (default spright.png; several images: PATH_0.png, PATH_1.png…)
          --save-npy PATH             also write the images as float32 NHWC in [0, 1] (diffusers output_type "np")
          --save-latents PATH         also write the final latents (.npy)
          --ftfy                      ftfy text clean-up in the tokenizer (what diffusers users with ftfy get)
          --quiet                     no progress bar
          --verbose                   stack traces on errors

        bench options (also --model, --prompt, --negative-prompt, --steps, --guidance, --width, --height, --seed,
        --scheduler, --provider, --device-id, --ftfy as above; defaults: 10 steps, seed 42):
          --runs R                    timed generate calls (default 5); medians are printed per stage
          --compare DIR2              also load DIR2 (e.g. the export of the same model) with the same options, time
                                      both interleaved in this process, print each median and ratio_b_over_a=
          --warmup N                  untimed calls first (default 1); short calls then continue untimed until .NET's JIT
                              has compiled nothing for 2 s (at most 15 s; --warmup 0 skips both)
          --threads N                 ONNX Runtime intra-op threads (default 0 = the library's choice)
          --low-memory                load each component for its stage only (DiffusionPipelineOptions.LowMemory)
          --optimized-cache-dir DIR   optimized-graph cache folder (OptimizedModelCacheDirectory)
          --no-small-graph-tuning     no tuning for tiny graphs (SmallGraphTuning: on in the CLI, for graphs under 64 MiB only)
          --check-cpu-parity          also run the call on the CPU provider and print the largest differences
          --opt-level all|extended|basic|none   graph optimization level (default all)
          --no-arena                  ONNX Runtime CPU arena off (default on)
          --memory-pattern / --no-memory-pattern   force the memory pattern (default: on for small graphs only)
          --split-from-pixels N       evaluate UNet batch items one at a time from N latent pixels (default 9216; 0 = never)
          --no-concurrent-batch       no side-by-side batch shares on single-threaded UNet sessions (EvaluateBatchItemsConcurrently)
          The last line is median_s=<seconds of one generate call>; peak_rss_mb is the process's peak memory.
        """;
}
