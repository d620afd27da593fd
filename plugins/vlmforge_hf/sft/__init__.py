"""The ``lora-sft`` and ``sft`` trainers: supervised fine-tuning with TRL on an export."""
