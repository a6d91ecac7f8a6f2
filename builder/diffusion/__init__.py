"""``diffusion``: an in-package MDM-style text-to-motion diffusion model, with the acceleration loss L_acc.

Modules (each imports torch only when it is imported itself; this package's ``__init__`` stays light so that the
generator registry can declare ``diffusion`` without loading torch):

- :mod:`.recover`: differentiable torch port of HumanML3D's ``recover_from_ric`` (features -> joints).
- :mod:`.losses`: L_simple, L_pos, L_vel, L_foot and L_acc as pure masked per-sample functions.
- :mod:`.schedule`: the cosine noise schedule, forward noising, the posterior, respacing.
- :mod:`.model`: :class:`~.model.DiffusionConfig` (sizes ``tiny``, ``small``, ``mdm``) and the denoiser that
  predicts x0 (transformer encoder, timestep token, all-MiniLM-L6-v2 text conditioning, condition dropout).
- :mod:`.text_encoder`: the all-MiniLM-L6-v2 sentence encoder, loaded offline, with a caption cache.
- :mod:`.data`: HumanML3D clips (segments, crops, Mean/Std normalisation) and padded batches.
- :mod:`.train`: training and fine-tuning (every loss weight a parameter).
- :mod:`.sample`: ancestral sampling with classifier-free guidance; features -> joints.
- :mod:`.checkpoint`: ``model.safetensors`` + ``config.json`` folders, checked on load.
- :mod:`.generator`: the ``diffusion`` generator of the registry (its checkpoint is its weights).
- :mod:`.export`: a HumanML3D-layout training set from a registered generator and a prompt set.
- :mod:`.cli_diffusion`: ``text2imu diffusion export|train|finetune|sample``.
"""
