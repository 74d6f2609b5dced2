"""sagestack's CrossGuard policy pack: `pulumi preview --policy-pack infra/policy`."""
