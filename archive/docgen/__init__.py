"""Document generation: template manifests, body.md builder, sandboxed rendering, plaque.

Public entry points: `manifest.get_manifest`, `manifest.list_manifests`, `engine.generate`,
`build.build_template`, `check.check_docx`, `plaque.render_plaque`.
"""
