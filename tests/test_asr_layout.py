from qa_pipeline.asr.layout import worker_layout


def test_cpu_default_is_one_worker_using_every_core() -> None:
    assert worker_layout(cpus=2, mem_gb=20) == (1, 2)
    assert worker_layout(cpus=8, mem_gb=64) == (1, 8)


def test_memory_caps_the_workers_and_threads_fill_the_cores() -> None:
    assert worker_layout(4, cpus=8, mem_gb=3.0) == (2, 4)
    assert worker_layout(4, cpus=4, mem_gb=0.5) == (1, 4)


def test_user_choice_is_kept() -> None:
    assert worker_layout(2, cpus=2, mem_gb=20) == (2, 1)
    assert worker_layout(1, 1, cpus=2, mem_gb=20) == (1, 1)
    assert worker_layout(3, cpus=2, mem_gb=20) == (3, 1)


def test_transcript_engine_stays_in_one_process() -> None:
    assert worker_layout(engine="transcript", cpus=2, mem_gb=20) == (1, 2)


def test_gpu_uses_two_feeding_workers() -> None:
    assert worker_layout(device="cuda", cpus=16, mem_gb=100) == (2, 8)
